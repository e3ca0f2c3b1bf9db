"""Customer-domain calibration: small linear heads fitted on the customer set's train part.

Why: the emotion head was trained on GoEmotions (Reddit); on customer SMS it collapses
angry complaints to ``neutral``. The topic taxonomy's keywords and example phrases miss
paraphrases. Both are fixed cheaply from what the encoder already computed for the
message (no extra forward): a logistic layer over [sentence embedding, log GoEmotions
probabilities] for emotion, and per topic a logistic layer over [sentence embedding,
best example cosine, keyword hit]. Fitted by ``scripts/fit_customer_calibration.py``
(``make train``) on ``training.customer_set.load("train")``, checked on dev; stored in
``processors/models/customer_calibration.json``. Only applied when the running heads
are the ones it was fitted on (same ``heads_version`` and embedding width), so custom
encoders or heads keep their own behaviour. A topic with no fitted head (a new topic
in a user's YAML) falls back to keywords plus example similarity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.labels import EMOTION_LABELS

DEFAULT_CALIBRATION = Path(__file__).resolve().parent / "models" / "customer_calibration.json"


@dataclass(frozen=True)
class TopicHead:
    """P(topic | message) = sigmoid(w . [embedding, best example cosine, keyword hit] + b)."""

    weight: np.ndarray
    bias: float
    threshold: float

    def prob(self, embedding: np.ndarray, similarity: float, keyword: bool) -> float:
        d = embedding.shape[0]
        z = float(self.weight[:d] @ embedding) + self.weight[d] * similarity \
            + self.weight[d + 1] * float(keyword) + self.bias
        return float(1.0 / (1.0 + np.exp(-z)))


@dataclass(frozen=True)
class Calibration:
    """The fitted emotion layer and topic heads, tied to one heads version."""

    heads_version: str
    dim: int
    emotion_weight: np.ndarray  # (labels, dim + labels)
    emotion_bias: np.ndarray  # (labels,)
    topics: dict[str, TopicHead]

    @classmethod
    def load(cls, path: Path | str | None = None) -> Calibration | None:
        """The calibration file, or None when there is none."""
        path = Path(path) if path else DEFAULT_CALIBRATION
        if not path.is_file():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        if tuple(raw["emotion"]["labels"]) != EMOTION_LABELS:
            raise ValueError(f"{path}: emotion labels {raw['emotion']['labels']} "
                             f"!= {EMOTION_LABELS}")
        topics = {name: TopicHead(np.asarray(t["weight"], np.float32), float(t["bias"]),
                                  float(t["threshold"]))
                  for name, t in raw["topics"].items()}
        return cls(str(raw["heads_version"]), int(raw["dim"]),
                   np.asarray(raw["emotion"]["weight"], np.float32),
                   np.asarray(raw["emotion"]["bias"], np.float32), topics)

    def fits(self, version: str, dim: int) -> bool:
        """Fitted on these heads and this embedding width?"""
        return version == self.heads_version and dim == self.dim

    def emotion(self, probs: dict[str, float], embedding: np.ndarray) -> dict[str, float]:
        """Customer-domain emotion probabilities from the GoEmotions ones and the embedding."""
        logp = np.log(np.array([probs.get(lab, 0.0) for lab in EMOTION_LABELS]) + 1e-9)
        x = np.concatenate([np.asarray(embedding, np.float32).ravel(), logp])
        z = self.emotion_weight @ x + self.emotion_bias
        e = np.exp(z - z.max())
        p = e / e.sum()
        return {lab: float(v) for lab, v in zip(EMOTION_LABELS, p, strict=True)}
