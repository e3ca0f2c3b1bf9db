"""The encoder + heads ONNX graph, written directly from the weights with ``onnx.helper``.

Why not ``torch.onnx.export``: the runtime install has no torch (it is several GB; the
``[train]`` extra brings it). This module writes, node by node, the graph that exporting
``processors.torch_encoder._Traceable`` gives for a BERT-style encoder (``BertModel``:
embeddings, post-LayerNorm layers with exact-erf GELU, mean pooling, L2 normalisation, and
the attention-pooling heads of ``processors.heads``), with the heads file's low-rank
adapters merged into the weights in numpy exactly as ``Heads.merge_lora`` does in torch.
``processors.int8.quantize_per_token`` then rewrites it to per-token int8, as before.
A unit test checks it against the torch export (tests/unit/test_bert_graph.py).

Raise ``BUILDER_VERSION`` whenever the graph written here changes: it is part of the
model cache's key (``processors/model_cache.py``), so stale cached graphs are rebuilt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from safetensors import safe_open

from processors import int8
from processors.heads import AttnHead, Heads

if TYPE_CHECKING:
    import onnx

# onnx is imported where a graph is written, not here: importing it costs over a second
# (ml_dtypes), and a start that finds its graph in the cache never writes one. The
# TensorProto element types used below, by value:
_FLOAT, _BOOL, _INT64 = 1, 9, 7

#: part of the cache key: bump when the graph this module writes changes in any way
BUILDER_VERSION = "bert-graph-1"
#: opset and IR version of the written graph (what the torch export used; ORT >= 1.17 reads it)
OPSET = 17
IR_VERSION = 8
#: node-name prefixes of the heads: kept fp32 by the int8 rewrite (as with the torch export)
HEAD_PREFIXES = ("/sentiment", "/emotion")
#: vocabularies this large get an int8 embedding table (see ``_int8_rows``)
INT8_ROWS_MIN_VOCAB = 100_000
_WORD_TABLE = "embeddings.word_embeddings.weight"
_LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value",
            "attention.output.dense", "intermediate.dense", "output.dense")


class UnsupportedEncoder(ValueError):
    """The configured encoder is not a BERT-style model this builder can write."""


@dataclass(frozen=True)
class BertShape:
    """The few ``config.json`` fields the graph depends on."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    layer_norm_eps: float

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> BertShape:
        """Refuse anything but an absolute-position BERT with (erf) GELU."""
        if config.get("model_type") != "bert":
            raise UnsupportedEncoder(f"model_type {config.get('model_type')!r} is not 'bert'")
        if config.get("hidden_act", "gelu") != "gelu" or config.get(
                "position_embedding_type", "absolute") != "absolute":
            raise UnsupportedEncoder("only absolute-position BERT with erf GELU is supported")
        return cls(int(str(config["hidden_size"])), int(str(config["num_hidden_layers"])),
                   int(str(config["num_attention_heads"])),
                   int(str(config["intermediate_size"])),
                   float(str(config.get("layer_norm_eps", 1e-12))))

    @classmethod
    def read(cls, model_dir: Path) -> BertShape:
        """From ``model_dir/config.json``."""
        return cls.from_config(read_config(model_dir))


def read_config(model_dir: Path) -> dict[str, object]:
    """``model_dir/config.json`` as a dict (UnsupportedEncoder when absent)."""
    path = model_dir / "config.json"
    if not path.is_file():
        raise UnsupportedEncoder(f"no config.json in {model_dir}")
    config: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return config


def weights_file(model_dir: Path) -> Path:
    """The encoder's safetensors weights (only safetensors: no pickle, no torch needed)."""
    path = model_dir / "model.safetensors"
    if not path.is_file():
        raise UnsupportedEncoder(f"no model.safetensors in {model_dir}")
    return path


def load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """All tensors as float32 numpy arrays, keys without a leading ``bert.``."""
    out: dict[str, np.ndarray] = {}
    with safe_open(str(weights_file(model_dir)), framework="numpy") as fh:
        for key in fh.keys():  # noqa: SIM118 - safe_open is not a mapping
            name = key[5:] if key.startswith("bert.") else key
            out[name] = fh.get_tensor(key).astype(np.float32)
    return out


def merge_lora(weights: dict[str, np.ndarray], heads: Heads) -> int:
    """Add the heads file's low-rank updates into ``weights`` (``W += B @ A``), as
    ``Heads.merge_lora`` does to a torch model; how many layers. Refuses unknown layers."""
    for name, (a, b) in heads.lora.items():
        key = f"{name}.weight"
        w = weights.get(key)
        if w is None or not name.endswith(_LINEARS) or w.shape != (b.shape[0], a.shape[1]):
            raise ValueError(f"heads file adapts encoder layer {name!r} "
                             f"({b.shape[0]}x{a.shape[1]}), which this encoder lacks")
        weights[key] = w + (b @ a).astype(np.float32)
    return len(heads.lora)


class _Graph:
    """Node and initializer lists with unique names: the small helper the builder needs."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        if name not in self._names:
            self._names.add(name)
            self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        """One node with one output named like the node; returns that output."""
        from onnx import helper

        if name in self._names:
            raise ValueError(f"duplicate node name {name}")
        self._names.add(name)
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        """``x @ W.T + b``: a MatMul on the transposed weight, as torch exports Linear."""
        w = self.const(f"{name}.weight_t", np.ascontiguousarray(weight.T))
        b = self.const(f"{name}.bias", bias)
        return self.op("Add", [b, self.op("MatMul", [x, w], f"{name}/MatMul")], f"{name}/Add")

    def layer_norm(self, x: str, weight: np.ndarray, bias: np.ndarray, eps: float,
                   name: str) -> str:
        return self.op("LayerNormalization", [x, self.const(f"{name}.weight", weight),
                                              self.const(f"{name}.bias", bias)],
                       f"{name}/LayerNormalization", axis=-1, epsilon=eps)

    def scalar(self, value: float) -> str:
        return self.const(f"const_{value!r}", np.array(value, np.float32))


def _gelu_erf(g: _Graph, x: str, name: str) -> str:
    """0.5 x (1 + erf(x / sqrt 2)): torch's default GELU."""
    e = g.op("Erf", [g.op("Div", [x, g.scalar(float(np.sqrt(2.0)))], f"{name}/Div")],
             f"{name}/Erf")
    inner = g.op("Mul", [x, g.op("Add", [e, g.scalar(1.0)], f"{name}/Add")], f"{name}/Mul")
    return g.op("Mul", [inner, g.scalar(0.5)], f"{name}/Mul_1")


def _gelu_tanh(g: _Graph, x: str, name: str) -> str:
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): the heads' GELU."""
    cube = g.op("Pow", [x, g.scalar(3.0)], f"{name}/Pow")
    inner = g.op("Add", [x, g.op("Mul", [cube, g.scalar(0.044715)], f"{name}/Mul")],
                 f"{name}/Add")
    t = g.op("Tanh", [g.op("Mul", [inner, g.scalar(0.7978845608028654)], f"{name}/Mul_1")],
             f"{name}/Tanh")
    half = g.op("Mul", [x, g.scalar(0.5)], f"{name}/Mul_2")
    return g.op("Mul", [half, g.op("Add", [t, g.scalar(1.0)], f"{name}/Add_1")],
                f"{name}/Mul_3")


def _encoder(g: _Graph, w: Mapping[str, np.ndarray], shape: BertShape) -> list[str]:
    """Embeddings + every layer; the hidden state after each (index 0: embeddings)."""
    d, h = shape.hidden_size, shape.num_attention_heads
    dh = d // h
    i64 = np.int64
    word = g.op("Gather", [g.const("embeddings.word_embeddings.weight",
                                   w["embeddings.word_embeddings.weight"]), "input_ids"],
                "/embeddings/word_embeddings/Gather", axis=0)
    # token type 0 everywhere (only input_ids and attention_mask are fed)
    typed = g.op("Add", [word, g.const("embeddings.token_type_0",
                                       w["embeddings.token_type_embeddings.weight"][0])],
                 "/embeddings/Add")
    length = g.op("Gather", [g.op("Shape", ["input_ids"], "/embeddings/Shape"),
                             g.const("const_idx1", np.array([1], i64))],
                  "/embeddings/Gather_len", axis=0)
    pos = g.op("Slice", [g.const("embeddings.position_embeddings.weight",
                                 w["embeddings.position_embeddings.weight"]),
                         g.const("const_idx0", np.array([0], i64)), length,
                         g.const("const_idx0", np.array([0], i64))],
               "/embeddings/position_embeddings/Slice")
    x = g.op("Add", [typed, pos], "/embeddings/Add_1")
    x = g.layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"],
                     shape.layer_norm_eps, "/embeddings/LayerNorm")
    # additive mask (B, 1, 1, L): 0 on tokens, float32's lowest on padding (as transformers)
    m = g.op("Cast", ["attention_mask"], "/mask/Cast", to=_FLOAT)
    m = g.op("Unsqueeze", [m, g.const("const_axes12", np.array([1, 2], i64))], "/mask/Unsqueeze")
    inv = g.op("Sub", [g.scalar(1.0), m], "/mask/Sub")
    bias = g.op("Mul", [inv, g.scalar(float(np.finfo(np.float32).min))], "/mask/Mul")
    heads_shape = g.const("const_heads_shape", np.array([0, 0, h, dh], i64))
    flat_shape = g.const("const_flat_shape", np.array([0, 0, d], i64))
    states = [x]
    for i in range(shape.num_hidden_layers):
        p, n = f"encoder.layer.{i}.", f"/encoder/layer.{i}"

        def lin(src: str, part: str, p: str = p, n: str = n) -> str:
            return g.linear(src, w[f"{p}{part}.weight"], w[f"{p}{part}.bias"],
                            f"{n}/{part.replace('.', '/')}")

        def split(src: str, perm: list[int], part: str, n: str = n) -> str:
            r = g.op("Reshape", [src, heads_shape], f"{n}/attention/self/{part}/Reshape")
            return g.op("Transpose", [r], f"{n}/attention/self/{part}/Transpose", perm=perm)

        q = split(lin(x, "attention.self.query"), [0, 2, 1, 3], "q")
        k = split(lin(x, "attention.self.key"), [0, 2, 3, 1], "k")
        v = split(lin(x, "attention.self.value"), [0, 2, 1, 3], "v")
        # scaled dot-product attention as torch exports it: q and k each times
        # sqrt(1/sqrt(head width)), the width read from q's shape at run time. A constant
        # scale would let ONNX Runtime fold it into the MatMul, which rounds differently
        # and (through the int8 steps after it) moves results away from the torch export's.
        width = g.op("Slice", [g.op("Shape", [q], f"{n}/attention/self/Shape"),
                               g.const("const_idx_last", np.array([-1], i64)),
                               g.const("const_idx_max", np.array([2**62], i64))],
                     f"{n}/attention/self/Slice")
        width = g.op("Sqrt", [g.op("Cast", [width], f"{n}/attention/self/Cast",
                                   to=_FLOAT)], f"{n}/attention/self/Sqrt")
        half = g.op("Sqrt", [g.op("Div", [g.scalar(1.0), width], f"{n}/attention/self/Div")],
                    f"{n}/attention/self/Sqrt_1")
        q = g.op("Mul", [q, half], f"{n}/attention/self/Mul")
        k = g.op("Mul", [k, half], f"{n}/attention/self/Mul_1")
        s = g.op("MatMul", [q, k], f"{n}/attention/self/MatMul")
        s = g.op("Add", [s, bias], f"{n}/attention/self/Add")
        s = g.op("Softmax", [s], f"{n}/attention/self/Softmax", axis=-1)
        ctx = g.op("MatMul", [s, v], f"{n}/attention/self/MatMul_1")
        ctx = g.op("Transpose", [ctx], f"{n}/attention/self/Transpose", perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, flat_shape], f"{n}/attention/self/Reshape")
        a = g.op("Add", [lin(ctx, "attention.output.dense"), x], f"{n}/attention/output/Add")
        x1 = g.layer_norm(a, w[f"{p}attention.output.LayerNorm.weight"],
                          w[f"{p}attention.output.LayerNorm.bias"], shape.layer_norm_eps,
                          f"{n}/attention/output/LayerNorm")
        inter = _gelu_erf(g, lin(x1, "intermediate.dense"), f"{n}/intermediate/gelu")
        o = g.op("Add", [lin(inter, "output.dense"), x1], f"{n}/output/Add")
        x = g.layer_norm(o, w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"],
                         shape.layer_norm_eps, f"{n}/output/LayerNorm")
        states.append(x)
    return states


def _mask_float(g: _Graph) -> str:
    """attention_mask as float (B, L, 1)."""
    m = g.op("Cast", ["attention_mask"], "/pool/Cast", to=_FLOAT)
    return g.op("Unsqueeze", [m, g.const("const_axis_last", np.array([-1], np.int64))],
                "/pool/Unsqueeze")


def _masked_mean(g: _Graph, x: str, mf: str, floor: float, name: str) -> str:
    axis1 = g.const("const_axis1", np.array([1], np.int64))
    total = g.op("ReduceSum", [g.op("Mul", [x, mf], f"{name}/Mul"), axis1], f"{name}/ReduceSum",
                 keepdims=0)
    count = g.op("ReduceSum", [mf, axis1], f"{name}/ReduceSum_1", keepdims=0)
    count = g.op("Max", [count, g.scalar(floor)], f"{name}/Max")
    return g.op("Div", [total, count], f"{name}/Div")


def _embedding(g: _Graph, last: str, mf: str) -> str:
    """Mean pooling + L2 normalisation (sentence-transformers' embedding)."""
    mean = _masked_mean(g, last, mf, 1e-9, "/pool/mean")
    norm = g.op("ReduceL2", [mean], "/pool/ReduceL2", axes=[-1], keepdims=1)
    norm = g.op("Max", [norm, g.scalar(1e-12)], "/pool/Max")
    return g.op("Div", [mean, norm], "embedding")


def _head(g: _Graph, head: AttnHead, tokens: str, mf: str, emb: str, name: str) -> str:
    """``AttnHead.probs`` as nodes (see processors/heads.py); output named ``name``."""
    n = f"/{name}"
    keep = g.op("Cast", [mf], f"{n}/Cast", to=_BOOL)
    mean = _masked_mean(g, tokens, mf, 1.0, f"{n}/mean")
    total = ""
    for i in range(head.members):
        p = {k: v[i] for k, v in head.params.items()}
        c = f"{n}/member{i}"
        scores = g.op("MatMul", [tokens, g.const(f"{c}.query_t",
                                                 np.ascontiguousarray(p["query"].T))],
                      f"{c}/MatMul")
        scores = g.op("Where", [keep, scores, g.scalar(-1e9)], f"{c}/Where")
        alpha = g.op("Softmax", [scores], f"{c}/Softmax", axis=1)
        alpha = g.op("Transpose", [alpha], f"{c}/Transpose", perm=[0, 2, 1])
        pools = g.op("MatMul", [alpha, tokens], f"{c}/MatMul_1")
        pools = g.op("Reshape", [pools, g.const("const_flat2", np.array([0, -1], np.int64))],
                     f"{c}/Reshape")
        x = g.op("Concat", [pools, mean, emb], f"{c}/Concat", axis=1)
        x = g.layer_norm(x, p["ln_weight"], p["ln_bias"], 1e-5, f"{c}/ln")
        hid = _gelu_tanh(g, g.linear(x, p["fc1_weight"], p["fc1_bias"], f"{c}/fc1"),
                         f"{c}/gelu")
        out = g.linear(hid, p["fc2_weight"], p["fc2_bias"], f"{c}/fc2")
        total = out if not total else g.op("Add", [total, out], f"{c}/Add")
    logits = g.op("Div", [total, g.scalar(float(head.members))], f"{n}/Div")
    logits = g.op("Add", [logits, g.const(f"{n}.offset", head.offset.astype(np.float32))],
                  f"{n}/Add")
    return g.op("Softmax", [logits], name, axis=-1)


def build_fp32(weights: Mapping[str, np.ndarray], shape: BertShape, heads: Heads | None
               ) -> onnx.ModelProto:
    """The fp32 graph: ``embedding`` and, with ``heads``, ``sentiment`` and ``emotion``.
    ``weights`` must already carry any adapters (``merge_lora``)."""
    from onnx import helper

    g = _Graph()
    states = _encoder(g, weights, shape)
    mf = _mask_float(g)
    emb = _embedding(g, states[-1], mf)
    outputs = [emb]
    if heads is not None:
        tokens = states[heads.feature_layer]
        outputs += [_head(g, heads.sentiment, tokens, mf, emb, "sentiment"),
                    _head(g, heads.emotion, tokens, mf, emb, "emotion")]
    inputs = [helper.make_tensor_value_info(k, _INT64, ["batch", "length"])
              for k in ("input_ids", "attention_mask")]
    widths = {"embedding": shape.hidden_size}
    if heads is not None:
        widths |= {"sentiment": len(heads.sentiment.labels),
                   "emotion": len(heads.emotion.labels)}
    outs = [helper.make_tensor_value_info(o, _FLOAT, ["batch", widths[o]])
            for o in outputs]
    graph = helper.make_graph(g.nodes, "voc_encoder", inputs, outs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="voc-pipeline", producer_version=BUILDER_VERSION)
    model.ir_version = IR_VERSION
    return model


def build_int8(model_dir: Path, heads: Heads) -> bytes:
    """The serialized per-token int8 graph: embedding + sentiment + emotion. Torch-free;
    a few seconds. (One graph serves ``embed`` too: the heads cost little next to the
    encoder, and a second graph would hold a second copy of the weights in memory.)"""
    shape = BertShape.read(model_dir)
    weights = load_weights(model_dir)
    merge_lora(weights, heads)
    model, _ = int8.quantize_per_token(build_fp32(weights, shape, heads), HEAD_PREFIXES)
    if _int8_rows(weights):
        model, _ = int8.quantize_gather_rows(model, _WORD_TABLE)
    serialized: bytes = model.SerializeToString()
    return serialized


def _int8_rows(weights: Mapping[str, np.ndarray]) -> bool:
    """Large vocabularies (multilingual-e5-small: 250k rows, 384 MB) keep their table as
    int8 rows; small ones (MiniLM's 30k) stay float32, so the shipped graph is unchanged."""
    return bool(weights[_WORD_TABLE].shape[0] >= INT8_ROWS_MIN_VOCAB)


def build_embedder(model_dir: Path, precision: Literal["fp32", "int8"],
                   int8_rows: bool | None = None) -> bytes:
    """The serialized embedding-only graph (no heads): ``fp32``, or ``int8`` (per-token
    int8 layers, and int8 embedding rows when ``int8_rows``; None = for a large
    vocabulary). For benchmarks and checks of an encoder before heads are trained for it."""
    shape = BertShape.read(model_dir)
    weights = load_weights(model_dir)
    model = build_fp32(weights, shape, None)
    if precision == "int8":
        model, _ = int8.quantize_per_token(model)
        if _int8_rows(weights) if int8_rows is None else int8_rows:
            model, _ = int8.quantize_gather_rows(model, _WORD_TABLE)
    serialized: bytes = model.SerializeToString()
    return serialized
