"""Customer-domain calibration: small linear heads fitted on the customer set's train part.

Why: the emotion head was trained on GoEmotions (Reddit); on customer SMS it collapses
angry complaints to ``neutral``. The topic taxonomy's keywords and example phrases miss
paraphrases. Both are fixed cheaply from what the encoder already computed for the
message (no extra forward): a logistic layer over [sentence embedding, log GoEmotions
probabilities] for emotion, per topic a logistic layer over [sentence embedding,
best example cosine, keyword hit], and for vulnerability and harm a layer over the
embedding that names the likely kind when no cue phrase of ``processors/cues.yaml`` fired
(an elderly customer who never says "elderly"). Fitted by ``scripts/fit_customer_calibration.py``
(``make train``) on ``training.customer_set.load("train")``, checked on dev; stored in
``processors/models/customer_calibration.json``. Only applied when the running heads
are the ones it was fitted on (same ``heads_version`` and embedding width), so custom
encoders or heads keep their own behaviour. A topic with no fitted head (a new topic
in a user's YAML) falls back to keywords plus example similarity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from processors.cues import CueHit, default_cues
from processors.model_files import calibration_file
from schemas.labels import EMOTION_LABELS

#: MiniLM's calibration (each encoder's own: processors/model_files.py)
DEFAULT_CALIBRATION = calibration_file(None)
#: the reason of a kind folded into "other" (too rare to learn on its own)
_REASONS = {"vulnerability": "vulnerable: the customer's circumstances may need care",
            "harm": "harm: the customer reports being harmed"}


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
class GroupHead:
    """Which vulnerability (or harm) kind a message's meaning suggests, when no cue phrase
    fired: a multinomial logistic layer over the sentence embedding. ``kinds[0]`` is
    ``"none"``; a kind with too few training rows is folded into ``"other"`` (reported with
    the group's generic reason). Reported when P(not none) >= ``threshold``."""

    kinds: tuple[str, ...]
    weight: np.ndarray  # (kinds, dim)
    bias: np.ndarray  # (kinds,)
    threshold: float

    def predict(self, embedding: np.ndarray) -> tuple[str, float] | None:
        """(kind, P(any kind)) when the head is confident enough, else None."""
        z = self.weight @ np.asarray(embedding, np.float32).ravel() + self.bias
        e = np.exp(z - z.max())
        p = e / e.sum()
        p_any = float(1.0 - p[0])
        if p_any < self.threshold:
            return None
        return self.kinds[1 + int(np.argmax(p[1:]))], p_any


@dataclass(frozen=True)
class Calibration:
    """The fitted emotion layer and topic heads, tied to one heads version."""

    heads_version: str
    dim: int
    #: (labels, dim + labels) and (labels,); None when the layer did not help on dev (heads
    #: that already learned from the customer set): the heads' emotion is reported as is
    emotion_weight: np.ndarray | None
    emotion_bias: np.ndarray | None
    topics: dict[str, TopicHead]
    #: "vulnerability" / "harm" -> head (absent from files fitted before they existed)
    groups: dict[str, GroupHead] = field(default_factory=dict)
    #: (slope, intercept): this encoder's cosine in the taxonomy YAML's similarity scale
    #: (all-MiniLM-L6-v2's); None for MiniLM itself (processors/taxonomy.py)
    similarity_map: tuple[float, float] | None = None

    @classmethod
    def load(cls, path: Path | str | None = None) -> Calibration | None:
        """The calibration file, or None when there is none."""
        path = Path(path) if path else DEFAULT_CALIBRATION
        if not path.is_file():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        emo = raw.get("emotion")
        if emo is not None and tuple(emo["labels"]) != EMOTION_LABELS:
            raise ValueError(f"{path}: emotion labels {raw['emotion']['labels']} "
                             f"!= {EMOTION_LABELS}")
        topics = {name: TopicHead(np.asarray(t["weight"], np.float32), float(t["bias"]),
                                  float(t["threshold"]))
                  for name, t in raw["topics"].items()}
        groups = {name: GroupHead(tuple(g["kinds"]), np.asarray(g["weight"], np.float32),
                                  np.asarray(g["bias"], np.float32), float(g["threshold"]))
                  for name, g in raw.get("groups", {}).items()}
        return cls(str(raw["heads_version"]), int(raw["dim"]),
                   np.asarray(emo["weight"], np.float32) if emo else None,
                   np.asarray(emo["bias"], np.float32) if emo else None, topics, groups,
                   tuple(raw["similarity_map"]) if raw.get("similarity_map") else None)

    def meaning_cues(self, embedding: np.ndarray, hits: list[CueHit]) -> list[CueHit]:
        """Vulnerability and harm read from the meaning, for each group no cue phrase of
        ``hits`` covered; the reason is the kind's own from ``processors/cues.yaml``."""
        fired = {h.group for h in hits}
        out: list[CueHit] = []
        for group, head in self.groups.items():
            if group in fired:
                continue
            found = head.predict(embedding)
            if found is None:
                continue
            kind = found[0]
            reason = _REASONS.get(group, group) if kind == "other" else \
                next((c.reason for c in default_cues() if c.id == kind), _REASONS.get(group, group))
            out.append(CueHit(id=kind, group=group, reason=reason, evidence=""))  # type: ignore[arg-type]
        return out

    def fits(self, version: str, dim: int) -> bool:
        """Fitted on these heads and this embedding width?"""
        return version == self.heads_version and dim == self.dim

    def emotion(self, probs: dict[str, float], embedding: np.ndarray) -> dict[str, float]:
        """Customer-domain emotion probabilities from the GoEmotions ones and the embedding."""
        if self.emotion_weight is None or self.emotion_bias is None:
            return dict(probs)
        logp = np.log(np.array([probs.get(lab, 0.0) for lab in EMOTION_LABELS]) + 1e-9)
        x = np.concatenate([np.asarray(embedding, np.float32).ravel(), logp])
        z = self.emotion_weight @ x + self.emotion_bias
        e = np.exp(z - z.max())
        p = e / e.sum()
        return {lab: float(v) for lab, v in zip(EMOTION_LABELS, p, strict=True)}
