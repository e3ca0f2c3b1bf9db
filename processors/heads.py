"""Sentiment and emotion heads: loading the shipped weights and applying them with numpy.

The heads file (``processors/models/heads.safetensors``) holds, in fp16:
  * ``layer.<name>``: a fine-tuned copy of the encoder's top transformer
    layer(s); the encoder runs them beside the frozen top layer(s), so the
    general-purpose embedding stays untouched for topics and search while the
    heads see task-tuned features (one shared bottom forward for both);
  * ``sentiment.weight/bias``, ``emotion.weight/bias``: linear heads on the
    mean-pooled output of the tuned layer(s);
  * ``sentiment.offset``, ``emotion.offset``: per-class logit offsets fitted on
    validation splits to balance the classes for macro-F1.
Metadata (JSON strings) records the labels, the base encoder and the layer count,
so a mismatched encoder is refused instead of producing silent nonsense.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from processors.types import EMOTION_LABELS, SENTIMENT_LABELS

DEFAULT_HEADS = Path(__file__).resolve().parent / "models" / "heads.safetensors"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class LinearHead:
    """``softmax(x @ W.T + b + offset)`` over ``labels``."""

    labels: tuple[str, ...]
    weight: np.ndarray  # (n_labels, dim)
    bias: np.ndarray  # (n_labels,)
    offset: np.ndarray  # (n_labels,)

    def probs(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, n_labels); rows sum to 1."""
        logits = features.astype(np.float32) @ self.weight.T + self.bias + self.offset
        return softmax(logits)


@dataclass
class Heads:
    """Everything trained on top of the frozen encoder."""

    sentiment: LinearHead
    emotion: LinearHead
    tuned_layers: int = 0
    layer_state: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """Short identifier of the trained weights (recorded in every output)."""
        return self.meta.get("version", "unknown")

    @classmethod
    def load(cls, path: Path | None = None) -> Heads:
        """Read a heads file written by :meth:`save` (default: the shipped one)."""
        path = Path(path) if path else DEFAULT_HEADS
        if not path.is_file():
            raise FileNotFoundError(f"heads file not found: {path} (run `make train`)")
        tensors: dict[str, np.ndarray] = {}
        with safe_open(str(path), framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
            for key in fh.keys():  # noqa: SIM118 - safe_open is not a mapping
                tensors[key] = fh.get_tensor(key).astype(np.float32)
        labels_s = tuple(json.loads(meta.get("sentiment_labels", "[]")) or SENTIMENT_LABELS)
        labels_e = tuple(json.loads(meta.get("emotion_labels", "[]")) or EMOTION_LABELS)
        if labels_s != SENTIMENT_LABELS or labels_e != EMOTION_LABELS:
            raise ValueError(f"heads file {path} has labels {labels_s}/{labels_e}, "
                             f"expected {SENTIMENT_LABELS}/{EMOTION_LABELS}")

        def head(name: str, labels: tuple[str, ...]) -> LinearHead:
            w = tensors[f"{name}.weight"]
            return LinearHead(labels, w, tensors[f"{name}.bias"],
                              tensors.get(f"{name}.offset", np.zeros(len(labels), np.float32)))

        layer_state = {k[len("layer."):]: v for k, v in tensors.items() if k.startswith("layer.")}
        return cls(head("sentiment", labels_s), head("emotion", labels_e),
                   int(meta.get("tuned_layers", "0")), layer_state, meta)

    def save(self, path: Path) -> None:
        """Write fp16 tensors plus metadata (labels, layer count, base encoder, version)."""
        tensors: dict[str, np.ndarray] = {}
        for name, h in (("sentiment", self.sentiment), ("emotion", self.emotion)):
            tensors[f"{name}.weight"] = h.weight.astype(np.float16)
            tensors[f"{name}.bias"] = h.bias.astype(np.float16)
            tensors[f"{name}.offset"] = h.offset.astype(np.float16)
        for k, v in self.layer_state.items():
            tensors[f"layer.{k}"] = np.ascontiguousarray(v.astype(np.float16))
        meta = dict(self.meta)
        meta.update(tuned_layers=str(self.tuned_layers),
                    sentiment_labels=json.dumps(list(self.sentiment.labels)),
                    emotion_labels=json.dumps(list(self.emotion.labels)))
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=meta)

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sentiment probs, emotion probs) for pooled tuned-layer features (n, dim)."""
        return self.sentiment.probs(features), self.emotion.probs(features)
