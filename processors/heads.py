"""Sentiment and emotion heads: loading the shipped weights and applying them with numpy.

Why attention-pooling heads: a linear head on the mean-pooled sentence
embedding misses short decisive cues ("not", "furious", an emoji) that the mean
washes out; a learned attention over the encoder's token states finds them, at
a cost of a few small matrix products (nothing like an extra transformer layer,
which this 2-core CPU could neither train nor serve cheaply). The encoder
returns the token states of layer ``feature_layer`` from the same forward pass
that produces the embedding, so both heads share that one forward.

Per task and per member the head computes, for token states X (L x D) with padding
masked: K attention pools softmax(X q_k) . X, the masked mean of X and the final
sentence embedding -> LayerNorm -> Linear -> GELU(tanh) -> Linear. A head is an
ensemble of M such members trained from different seeds (M = 1 is one plain head):
their logits are averaged, then the per-class ``offset`` (fitted on validation
splits) is added. In memory every parameter carries the member axis first. The heads
file (``processors/models/heads.safetensors``, fp16) holds those tensors; a single head
is written without the member axis, as before ensembles existed.
Metadata (JSON strings) records labels, the base encoder, its shape and the
feature layer, so a mismatched encoder is refused instead of giving nonsense.
The file may also carry low-rank encoder updates (LoRA, ``lora.<layer>.A/B``, trained
with the heads by ``scripts/train_adapter.py``); ``Heads.merge_lora`` adds them into the
encoder's weights once at load, so they cost nothing per message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS

if TYPE_CHECKING:  # torch only for training and the torch runtimes (the [train] extra)
    import torch

DEFAULT_HEADS = Path(__file__).resolve().parent / "models" / "heads.safetensors"
# These matrices are small: a multi-threaded BLAS spends more time waking and
# spinning threads (fighting torch's threads on a 2-core box) than computing;
# measured 8.6 ms -> 0.6 ms per single-message prediction with one BLAS thread.
# EncoderAnalyzer sets that limit once for the process (toggling it per call is not
# safe while another thread is inside BLAS).
_PARAMS = ("query", "ln_weight", "ln_bias", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias")
#: the Linear layers of a BERT-style encoder layer that may carry a low-rank update
_LORA_SUFFIXES = ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense", "intermediate.dense", "output.dense")


def lora_targets(model: torch.nn.Module) -> list[str]:
    """Names of the encoder's Linear layers that low-rank adapters (LoRA) may update."""
    import torch

    return [name for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and ".layer." in name
            and name.endswith(_LORA_SUFFIXES)]


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, stable for large logits."""
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=axis, keepdims=True)
    return out


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (the same one the training module uses)."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))


def pooled_features(tokens: np.ndarray, mask: np.ndarray, emb: np.ndarray,
                    query: np.ndarray) -> np.ndarray:
    """[K attention pools, masked mean, sentence embedding] per row, shape (B, (K+2)*D)."""
    m = mask.astype(bool)
    scores = np.einsum("bld,kd->blk", tokens, query)
    scores = np.where(m[..., None], scores, -1e9)
    alpha = softmax(scores, axis=1)
    pools = np.einsum("blk,bld->bkd", alpha, tokens).reshape(tokens.shape[0], -1)
    mf = m[..., None].astype(tokens.dtype)
    mean = (tokens * mf).sum(1) / np.maximum(mf.sum(1), 1.0)
    return np.concatenate([pools, mean, emb], axis=1)


@dataclass
class AttnHead:
    """One task's head (an ensemble of ``members``); ``probs`` returns (B, n_labels) rows
    summing to 1. Every entry of ``params`` has the member axis first."""

    labels: tuple[str, ...]
    params: dict[str, np.ndarray]
    offset: np.ndarray

    def __post_init__(self) -> None:
        if self.params["query"].ndim == 2:  # a single head without the member axis
            self.params = {k: v[None] for k, v in self.params.items()}

    @property
    def members(self) -> int:
        """How many independently trained heads are averaged."""
        return int(self.params["query"].shape[0])

    @classmethod
    def stack(cls, heads: list[AttnHead], offset: np.ndarray) -> AttnHead:
        """One ensemble head from single heads of the same shape and labels."""
        if len({h.labels for h in heads}) != 1:
            raise ValueError("cannot stack heads with different labels")
        params = {k: np.concatenate([h.params[k] for h in heads]) for k in _PARAMS}
        return cls(heads[0].labels, params, offset)

    def logits(self, tokens: np.ndarray, mask: np.ndarray, emb: np.ndarray) -> np.ndarray:
        """Raw logits (before softmax): the members' mean, offsets included."""
        tokens, emb = tokens.astype(np.float32), emb.astype(np.float32)
        total = np.zeros((tokens.shape[0], len(self.labels)), np.float32)
        for i in range(self.members):
            p = {k: v[i] for k, v in self.params.items()}
            x = pooled_features(tokens, mask, emb, p["query"])
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            x = (x - mu) / np.sqrt(var + 1e-5) * p["ln_weight"] + p["ln_bias"]
            h = gelu_tanh(x @ p["fc1_weight"].T + p["fc1_bias"])
            total += h @ p["fc2_weight"].T + p["fc2_bias"]
        out: np.ndarray = total / self.members + self.offset
        return out

    def probs(self, tokens: np.ndarray, mask: np.ndarray, emb: np.ndarray) -> np.ndarray:
        """Class probabilities."""
        return softmax(self.logits(tokens, mask, emb))



@dataclass
class Heads:
    """Everything trained for the encoder: the heads, and optional low-rank encoder updates."""

    sentiment: AttnHead
    emotion: AttnHead
    feature_layer: int
    meta: dict[str, str] = field(default_factory=dict)
    #: low-rank encoder updates per Linear layer name: (A scaled, B), W += B @ A
    lora: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """Short identifier of the trained weights (recorded in every output)."""
        return self.meta.get("version", "unknown")

    @property
    def dim(self) -> int:
        """Token-state width the heads expect."""
        return int(self.sentiment.params["query"].shape[2])

    @classmethod
    def load(cls, path: Path | str | None = None) -> Heads:
        """Read a heads file written by :meth:`save` (default: the shipped one)."""
        path = Path(path) if path else DEFAULT_HEADS
        if not path.is_file():
            raise FileNotFoundError(f"heads file not found: {path} (run `make train`)")
        tensors: dict[str, np.ndarray] = {}
        with safe_open(str(path), framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
            for key in fh.keys():  # noqa: SIM118 - safe_open is not a mapping
                tensors[key] = fh.get_tensor(key).astype(np.float32)
        labels_s = tuple(json.loads(meta.get("sentiment_labels", "[]")))
        labels_e = tuple(json.loads(meta.get("emotion_labels", "[]")))
        if labels_s != SENTIMENT_LABELS or labels_e != EMOTION_LABELS:
            raise ValueError(f"heads file {path} has labels {labels_s}/{labels_e}, "
                             f"expected {SENTIMENT_LABELS}/{EMOTION_LABELS}")

        def head(name: str, labels: tuple[str, ...]) -> AttnHead:
            params = {k: tensors[f"{name}.{k}"] for k in _PARAMS}
            return AttnHead(labels, params, tensors[f"{name}.offset"])

        lora = {k[5:-2]: (tensors[k], tensors[k[:-2] + ".B"])
                for k in tensors if k.startswith("lora.") and k.endswith(".A")}
        return cls(head("sentiment", labels_s), head("emotion", labels_e),
                   int(meta["feature_layer"]), meta, lora)

    def save(self, path: Path) -> None:
        """Write fp16 tensors plus metadata (labels, feature layer, base encoder, version)."""
        tensors: dict[str, np.ndarray] = {}
        for name, h in (("sentiment", self.sentiment), ("emotion", self.emotion)):
            for k in _PARAMS:  # one member: the plain layout (files stay as they were)
                v = h.params[k][0] if h.members == 1 else h.params[k]
                tensors[f"{name}.{k}"] = np.ascontiguousarray(v.astype(np.float16))
            tensors[f"{name}.offset"] = h.offset.astype(np.float16)
        for name, (a, b) in self.lora.items():
            tensors[f"lora.{name}.A"] = np.ascontiguousarray(a.astype(np.float16))
            tensors[f"lora.{name}.B"] = np.ascontiguousarray(b.astype(np.float16))
        meta = dict(self.meta)
        if self.sentiment.members > 1 or self.emotion.members > 1:
            meta["members"] = str(self.sentiment.members)
        meta.update(feature_layer=str(self.feature_layer),
                    sentiment_labels=json.dumps(list(self.sentiment.labels)),
                    emotion_labels=json.dumps(list(self.emotion.labels)))
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=meta)

    def merge_lora(self, model: torch.nn.Module) -> int:
        """Add the low-rank updates into ``model``'s weights in place (once, at load: the
        adapted encoder then runs exactly as fast as the plain one); how many layers.
        Refuses an update whose layer or shape the model lacks. The torch-free runtime
        merges in numpy instead (``processors.bert_graph.merge_lora``)."""
        import torch

        targets = set(lora_targets(model))
        with torch.no_grad():
            for name, (a, b) in self.lora.items():
                layer = model.get_submodule(name) if name in targets else None
                if not isinstance(layer, torch.nn.Linear) or layer.weight.shape != (
                        b.shape[0], a.shape[1]):
                    raise ValueError(f"heads file adapts encoder layer {name!r} "
                                     f"({b.shape[0]}x{a.shape[1]}), which this encoder lacks")
                layer.weight += torch.from_numpy(b @ a).to(layer.weight.dtype)
        return len(self.lora)

    def predict(self, tokens: np.ndarray, mask: np.ndarray,
                emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sentiment probs, emotion probs) from token states (B, L, D), mask (B, L), emb (B, D)."""
        return self.sentiment.probs(tokens, mask, emb), self.emotion.probs(tokens, mask, emb)
