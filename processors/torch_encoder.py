"""The encoder in torch: training, benchmarks, the reference the torch-free graph is tested
against, and the fallback for encoders ``processors/bert_graph.py`` cannot write.

Needs the ``[train]`` extra (torch). Nothing on the runtime path imports this module unless
``ModelConfig.runtime`` asks for torch or the configured encoder is not BERT-style.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import cast

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from processors import int8
from processors.config import ModelConfig, resolve_model_dir
from processors.heads import _PARAMS, AttnHead, Heads

log = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask")
#: a padded batch to trace or export on (so the attention-mask path is the one recorded)
_EXAMPLE = ("ok", "the parcel came two days late and the box was damaged")
#: sentences a traced or int8 graph is checked on against eager fp32 when it is built
_PROBE = ("thanks", "billing is wrong again", "why was I charged twice this month?",
          "I love the new app, it is so much faster", "the engineer never came and nobody called")


def load_base(encoder: str | None) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Tokenizer and encoder in eval mode; local files only unless an id must be fetched."""
    path = resolve_model_dir(encoder)
    local = Path(path).is_dir()
    tok = AutoTokenizer.from_pretrained(  # type: ignore[no-untyped-call]
        path, local_files_only=local)
    model = AutoModel.from_pretrained(path, local_files_only=local)
    model.eval()
    return tok, model


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the non-padding token vectors (sentence-transformers' pooling)."""
    m = attention_mask[..., None].to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def sentence_embedding(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """L2-normalised mean pooling: the embedding that search, subject tagging and the training
    scripts' distillation target all share."""
    return torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)


class TorchAttnHead(torch.nn.Module):
    """``AttnHead.probs`` in torch, same maths and weights: traced together with the
    encoder, forward + heads are one TorchScript call, with no Python between ops.
    Members run one after another with plain 2-D products (one batched 3-D einsum over
    the member axis measured 1.3x slower for a single member)."""

    def __init__(self, head: AttnHead) -> None:
        super().__init__()
        self.members = head.members  # a constant: the loop is unrolled when traced
        for i in range(self.members):
            for k in _PARAMS:
                self.register_buffer(f"{k}_{i}",
                                     torch.from_numpy(np.ascontiguousarray(head.params[k][i])))
        self.register_buffer("offset", torch.from_numpy(np.ascontiguousarray(head.offset)))
        self.width = int(head.params["ln_weight"].shape[1])  # a constant, not a traced shape

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, emb: torch.Tensor
                ) -> torch.Tensor:
        m = mask.bool()
        mf = m[..., None].to(tokens.dtype)
        mean = (tokens * mf).sum(1) / mf.sum(1).clamp(min=1.0)
        total = torch.zeros(())
        for i in range(self.members):
            p = {k: cast(torch.Tensor, getattr(self, f"{k}_{i}")) for k in _PARAMS}
            scores = torch.einsum("bld,kd->blk", tokens, p["query"])
            scores = scores.masked_fill(~m[..., None], -1e9)
            pools = torch.einsum("blk,bld->bkd", scores.softmax(1), tokens).flatten(1)
            x = torch.cat([pools, mean, emb], 1)
            x = torch.nn.functional.layer_norm(x, (self.width,), p["ln_weight"], p["ln_bias"],
                                               1e-5)
            h = torch.nn.functional.gelu(x @ p["fc1_weight"].T + p["fc1_bias"],
                                         approximate="tanh")
            total = total + h @ p["fc2_weight"].T + p["fc2_bias"]
        return (total / self.members + cast(torch.Tensor, self.offset)).softmax(-1)


class Traceable(torch.nn.Module):
    """Encoder forward -> L2-normalised mean-pooled embedding, and with ``heads`` also the
    sentiment and emotion probabilities from the heads' layer: one graph per call."""

    def __init__(self, model: PreTrainedModel, heads: Heads | None) -> None:
        super().__init__()
        self.model = model
        self.feature_layer = heads.feature_layer if heads is not None else -1
        self.sentiment = TorchAttnHead(heads.sentiment) if heads is not None else None
        self.emotion = TorchAttnHead(heads.emotion) if heads is not None else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                ) -> tuple[torch.Tensor, ...]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         output_hidden_states=self.sentiment is not None, return_dict=True)
        emb = sentence_embedding(out.last_hidden_state, attention_mask)
        if self.sentiment is None or self.emotion is None:
            return (emb,)
        tokens = out.hidden_states[self.feature_layer]
        return (emb, self.sentiment(tokens, attention_mask, emb),
                self.emotion(tokens, attention_mask, emb))


def _batch(tokenizer: PreTrainedTokenizerBase, texts: Iterable[str],
           max_length: int = 128) -> dict[str, torch.Tensor]:
    enc: dict[str, torch.Tensor] = tokenizer(list(texts), padding=True, truncation=True,
                                             max_length=max_length, return_tensors="pt")
    return enc


def trace_encoder(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                  heads: Heads | None, max_length: int) -> torch.jit.ScriptModule | None:
    """Encoder (and heads) as TorchScript, or None (with a warning) when it cannot be traced.

    Traced on a padded batch so the attention-mask path is the one recorded, then
    checked against eager on other lengths: a model whose Python branches on shapes
    would give different numbers, and is then run eagerly instead.
    """
    from transformers.utils import logging as hf_logging

    wrapper = Traceable(model, heads).eval()
    example = _batch(tokenizer, _EXAMPLE, max_length)
    probe = _batch(tokenizer, _PROBE, max_length)
    verbosity = hf_logging.get_verbosity()
    # tracing touches config fields that log noise
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about Python-side shape checks
            traced: torch.jit.ScriptModule = torch.jit.trace(  # type: ignore[no-untyped-call]
                wrapper, (example["input_ids"], example["attention_mask"]),
                strict=False, check_trace=False)
            for enc in (probe, _batch(tokenizer, ["x"], max_length)):
                got = traced(enc["input_ids"], enc["attention_mask"])
                want = wrapper(enc["input_ids"], enc["attention_mask"])
                if max(float((g - w).abs().max()) for g, w in zip(got, want, strict=True)) > 1e-4:
                    raise ValueError("traced outputs differ from eager")
    except Exception as exc:  # noqa: BLE001 - any tracing failure means: run eagerly
        log.warning("encoder cannot run as TorchScript (%s: %s); using eager torch",
                    type(exc).__name__, exc)
        return None
    finally:
        hf_logging.set_verbosity(verbosity)
    return traced


def export_onnx(module: torch.nn.Module, example: Mapping[str, torch.Tensor],
                outputs: list[str]) -> bytes:
    """``module(input_ids, attention_mask)`` exported to fp32 ONNX (dynamic batch, length)."""
    dyn = {name: {0: "batch", 1: "length"} for name in _INPUTS}
    dyn.update({name: {0: "batch"} for name in outputs})
    buf = io.BytesIO()
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about Python-side shape checks
        # the stubs say a path; a file object is documented and works
        torch.onnx.export(module, (example["input_ids"], example["attention_mask"]),
                          buf,  # type: ignore[arg-type]
                          input_names=list(_INPUTS), output_names=outputs,
                          dynamic_axes=dyn, opset_version=17, dynamo=False)
    return buf.getvalue()


def export_int8(module: torch.nn.Module, example: Mapping[str, torch.Tensor], outputs: list[str],
                skip_prefixes: Iterable[str] = ()) -> bytes:
    """The torch export rewritten to per-token int8: the path every start took before the
    graph was written from the weights (processors/bert_graph.py); now the reference."""
    import onnx

    model, count = int8.quantize_per_token(
        onnx.load_from_string(export_onnx(module, example, outputs)), skip_prefixes)
    log.info("built per-token int8 graph from torch: %d MatMuls rewritten", count)
    serialized: bytes = model.SerializeToString()
    return serialized


Forward = int8.Forward


class TorchEncoder:
    """The encoder with the heads file's adapters merged, run by torch in one of three ways:
    ``int8`` (torch export rewritten to per-token int8, checked against eager fp32),
    ``torchscript`` (traced fp32) or ``torch`` (eager, heads in numpy). ``forwards[heads]``
    maps numpy ids and mask to [embedding] or [embedding, sentiment, emotion]."""

    def __init__(self, config: ModelConfig, model_path: str, heads: Heads) -> None:
        torch.set_num_threads(config.threads)
        self.config, self.heads = config, heads
        self.tokenizer, self.model = load_base(model_path)
        if heads.merge_lora(self.model):  # adapters trained with the heads, if any
            log.info("merged %d low-rank encoder updates from the heads file", len(heads.lora))
        self.forwards: dict[bool, Forward] = {}
        if config.runtime == "int8":
            self.forwards = self._int8()
            self.runtime = "int8"
        if not self.forwards and config.runtime != "torch":
            self.runtime = "torchscript"
            for with_heads in (False, True):
                traced = trace_encoder(self.tokenizer, self.model,
                                       heads if with_heads else None, config.max_length)
                if traced is None:
                    self.forwards = {}
                    break
                self.forwards[with_heads] = _traced_forward(traced)
        if not self.forwards:
            self.runtime = "torch"
            self.forwards = {False: self._eager(False), True: self._eager(True)}

    def _int8(self) -> dict[bool, Forward]:
        """Both graphs as per-token int8, checked against eager fp32 on a few sentences;
        {} (with a warning) when either cannot be built or drifts too far."""
        example = _batch(self.tokenizer, _EXAMPLE)
        probe = _batch(self.tokenizer, _PROBE)
        graphs: dict[bool, Forward] = {}
        try:
            for with_heads in (False, True):
                wrapper = Traceable(self.model, self.heads if with_heads else None).eval()
                outputs = ["embedding", "sentiment", "emotion"] if with_heads else ["embedding"]
                graph = int8.OnnxGraph(export_int8(wrapper, example, outputs,
                                                   skip_prefixes=("/sentiment", "/emotion")),
                                       self.config.threads)
                got = graph(probe["input_ids"].numpy(), probe["attention_mask"].numpy())
                with torch.inference_mode():
                    want = [t.numpy() for t in wrapper(probe["input_ids"],
                                                       probe["attention_mask"])]
                cosine = float((got[0] * want[0]).sum(axis=1).min())
                drift = max((float(np.abs(g - w).max()) for g, w in zip(got[1:], want[1:],
                                                                         strict=True)), default=0.0)
                if cosine < 0.95 or drift > 0.1:  # int8 rounding gave >= 0.97 and <= 0.05
                    raise ValueError(f"int8 outputs too far from fp32 (embedding cosine "
                                     f"{cosine:.3f}, probability drift {drift:.3f})")
                graphs[with_heads] = graph
        except Exception as exc:  # noqa: BLE001 - any build failure means: run fp32
            log.warning("encoder cannot run as per-token int8 (%s: %s); using TorchScript",
                        type(exc).__name__, exc)
            return {}
        return graphs

    def _eager(self, with_heads: bool) -> Forward:
        def run(ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
            t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)
            with torch.inference_mode():
                out = self.model(input_ids=t_ids, attention_mask=t_mask,
                                 output_hidden_states=with_heads)
                e = sentence_embedding(out.last_hidden_state, t_mask).numpy()
                if not with_heads:
                    return [e]
                tokens = out.hidden_states[self.heads.feature_layer].numpy()
            sp, ep = self.heads.predict(tokens, mask, e)
            return [e, sp, ep]

        return run


def _traced_forward(traced: torch.jit.ScriptModule) -> Forward:
    def run(ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            return [t.numpy() for t in traced(torch.from_numpy(ids), torch.from_numpy(mask))]

    return run
