"""Per-token int8 encoder graph for ONNX Runtime: 1.3-1.5x the fp32 forward, deterministic.

ONNX Runtime's own dynamic quantization scales each activation tensor by the range of
the whole batch, so a message's label could change with its batch-mates (3.5-5% of
labels did). Here every weight MatMul ``X @ W`` becomes an integer product where each
token row of ``X`` gets its own scale, max|row| / 127, and each column of ``W`` its own
(per-channel weights, 7 bits stored as int8; see ``_W_MAX``). A row's numbers then
depend only on that row: a message gets the same result alone or in any batch. The
rest of the graph (attention scores, softmax, layer norms, pooling, heads) stays fp32.

The fp32 graph comes from ``processors/bert_graph.py`` (written from the weights, no torch)
or, for the reference and for encoders it cannot write, from ``torch.onnx``
(``processors/torch_encoder.py``); ``processors/model_cache.py`` keeps the result on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

#: one encoder call: token ids and attention mask (B, L) -> [embedding] or
#: [embedding, sentiment, emotion] (an OnnxGraph, or a torch runtime's forward)
Forward = Callable[[np.ndarray, np.ndarray], list[np.ndarray]]

#: weights use 7 bits: without VNNI, x86's uint8 x int8 kernel adds pairs of products in
#: int16, which overflows for 255 * 127 * 2; 255 * 63 * 2 fits (ORT's own "reduce_range")
_W_MAX = 63.0


def quantize_per_token(model: onnx.ModelProto, skip_prefixes: Iterable[str] = ()
                       ) -> tuple[onnx.ModelProto, int]:
    """Rewrite every ``MatMul`` with a constant weight into per-token int8 (see module doc).

    Activations are quantized symmetrically (zero point 128 as uint8, range 1..255)
    so ONNX Runtime takes its fast uint8 x int8 kernel; weights per column in 7 bits.
    Nodes whose name starts with one of ``skip_prefixes`` stay fp32. Returns the new
    model and how many MatMuls changed.
    """
    import onnx  # only when a graph is built: importing it costs over a second
    from onnx import TensorProto, helper, numpy_helper

    skip = tuple(skip_prefixes)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    shared = [
        numpy_helper.from_array(np.array(1e-8, np.float32), "q8_eps"),
        numpy_helper.from_array(np.array(127.0, np.float32), "q8_127"),
        numpy_helper.from_array(np.array(128.0, np.float32), "q8_128"),
        numpy_helper.from_array(np.array(128, np.uint8), "q8_zero_point"),
    ]
    nodes: list[onnx.NodeProto] = []
    added: list[onnx.TensorProto] = []
    count = 0
    for n in g.node:
        weight = n.input[1] if n.op_type == "MatMul" and n.input[1] in inits else None
        if weight is None or n.input[0] in inits or n.name.startswith(skip):
            nodes.append(n)
            continue
        w = numpy_helper.to_array(inits[weight]).astype(np.float32)
        if w.ndim != 2:
            nodes.append(n)
            continue
        w_scale = np.maximum(np.abs(w).max(axis=0), 1e-8) / _W_MAX
        w_q = np.clip(np.round(w / w_scale), -_W_MAX, _W_MAX).astype(np.int8)
        p = f"q8_{count}_"
        count += 1
        added += [numpy_helper.from_array(w_q, p + "w"),
                  numpy_helper.from_array(w_scale.astype(np.float32), p + "w_scale")]
        x = n.input[0]
        nodes += [
            helper.make_node("Abs", [x], [p + "abs"]),
            helper.make_node("ReduceMax", [p + "abs"], [p + "amax"], axes=[-1], keepdims=1),
            helper.make_node("Max", [p + "amax", "q8_eps"], [p + "amax_pos"]),
            helper.make_node("Div", [p + "amax_pos", "q8_127"], [p + "x_scale"]),
            helper.make_node("Div", [x, p + "x_scale"], [p + "x_scaled"]),
            helper.make_node("Round", [p + "x_scaled"], [p + "x_round"]),
            helper.make_node("Add", [p + "x_round", "q8_128"], [p + "x_shift"]),
            helper.make_node("Cast", [p + "x_shift"], [p + "x_q"], to=TensorProto.UINT8),
            helper.make_node("MatMulInteger", [p + "x_q", p + "w", "q8_zero_point"], [p + "y_i32"]),
            helper.make_node("Cast", [p + "y_i32"], [p + "y_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [p + "y_f", p + "x_scale"], [p + "y_row"]),
            helper.make_node("Mul", [p + "y_row", p + "w_scale"], [n.output[0]]),
        ]
    used = {i for nd in nodes for i in nd.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + [i for i in shared + added if i.name in used])
    onnx.checker.check_model(model)
    return model, count


def quantize_gather_rows(model: onnx.ModelProto, weight: str) -> tuple[onnx.ModelProto, int]:
    """Store the embedding table ``weight`` as int8 rows, each with its own scale
    (max|row| / 127), dequantized after the lookup: only the looked-up rows become
    float. Why: multilingual-e5-small's 250k-row table is 384 MB in float32 and 96 MB
    like this; a DequantizeLinear on the table would be folded back to float32 at load.
    Returns the model and how many Gathers changed."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    table = next((i for i in g.initializer if i.name == weight), None)
    if table is None:
        return model, 0
    w = numpy_helper.to_array(table).astype(np.float32)
    scale = (np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-8) / 127.0).astype(np.float32)
    rows = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    nodes: list[onnx.NodeProto] = []
    count = 0
    for n in g.node:
        if n.op_type != "Gather" or n.input[0] != weight:
            nodes.append(n)
            continue
        p = f"q8rows_{count}_"
        count += 1
        ids = n.input[1]
        nodes += [
            helper.make_node("Gather", [weight + "_int8", ids], [p + "q"], axis=0),
            helper.make_node("Cast", [p + "q"], [p + "f"], to=TensorProto.FLOAT),
            helper.make_node("Gather", [weight + "_scale", ids], [p + "s"], axis=0),
            helper.make_node("Mul", [p + "f", p + "s"], [n.output[0]]),
        ]
    kept = [i for i in g.initializer if i.name != weight]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + [numpy_helper.from_array(rows, weight + "_int8"),
                                 numpy_helper.from_array(scale, weight + "_scale")])
    onnx.checker.check_model(model)
    return model, count


class OnnxGraph:
    """One ONNX Runtime session; callable like the traced module, numpy in and out.

    ``run`` is thread-safe in ONNX Runtime, so the analyzer's sub-batch threads share
    one session, each call on ``threads`` intra-op threads.
    """

    def __init__(self, graph: bytes, threads: int) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> list[np.ndarray]:
        feeds = {"input_ids": input_ids.astype(np.int64),
                 "attention_mask": attention_mask.astype(np.int64)}
        return [np.asarray(o) for o in self.session.run(None, feeds)]
