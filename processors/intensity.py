"""How upset a message is, 0-1, separate from its polarity.

Why: the sentiment head's negative probability saturates at 0.95-1.00 for any complaint,
so a hedged "bit annoying" looked as urgent as "my baby has no heating". Intensity is a
small logistic model over signals we already have (the heads' probabilities, the cue hits
of ``processors/cues.yaml``, churn/legal/repeat cues, capitals and "!!"), fitted with soft
labels on the customer set's train part by ``training/fit_intensity.py``; its few numbers
live in ``processors/models/intensity.json``. Neutral and positive messages score near 0.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from processors.cues import CueHit
from processors.model_files import intensity_file
from processors.urgency import DURATION, LEGAL, REPEAT_PROBLEM, _churn_threat

#: MiniLM's model (each encoder's own: processors/model_files.py)
MODEL_PATH = intensity_file(None)

FEATURES: tuple[str, ...] = (
    "negative", "positive", "negative_x_english", "angry", "fear", "sadness",
    "strong", "urgent_plea", "hedge", "vulnerability", "harm", "churn", "leave_threat", "legal",
    "repeat_or_long", "shouting", "exclaim", "question_only",
)

_PLACEHOLDER = re.compile(r"\[(?:PHONE|EMAIL|CARD|POSTCODE|IBAN)\]")
_LETTER_WORD = re.compile(r"[^\W\d_]+")
_CAPS_WORD = re.compile(r"\b[^\W\d_a-z]{3,}\b")


@dataclass(frozen=True)
class IntensityModel:
    """Logistic weights over ``FEATURES``."""

    coef: tuple[float, ...]
    intercept: float

    def predict(self, x: dict[str, float]) -> float:
        z = self.intercept + sum(w * x[f] for w, f in zip(self.coef, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


def features(text: str, sentiment: dict[str, float] | None, emotion: dict[str, float] | None,
             hits: list[CueHit], english: bool) -> dict[str, float]:
    """The model's inputs for one message (all in [0, 1])."""
    sent = sentiment or {}
    emo = emotion or {}
    neg = sent.get("negative", 0.0)
    groups = {h.id for h in hits} | {h.group for h in hits}
    plain = _PLACEHOLDER.sub(" ", text)
    letters = "".join(_LETTER_WORD.findall(plain))
    shouting = (len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) >= 0.7) \
        or len(_CAPS_WORD.findall(plain)) >= 1
    stripped = text.strip()
    return {
        "negative": neg,
        "positive": sent.get("positive", 0.0),
        "negative_x_english": neg if english else 0.0,
        "angry": max(emo.get("anger", 0.0), emo.get("disgust", 0.0)),
        "fear": emo.get("fear", 0.0),
        "sadness": emo.get("sadness", 0.0),
        "strong": float("strong" in groups),
        "urgent_plea": float("urgent_plea" in groups),
        "hedge": float("hedge" in groups),
        "vulnerability": float("vulnerability" in groups),
        "harm": float("harm" in groups),
        "churn": float(_churn_threat(text) is not None),
        "leave_threat": float("leaving" in groups),
        "legal": float(LEGAL.search(text) is not None),
        "repeat_or_long": float(bool(REPEAT_PROBLEM.search(text) or DURATION.search(text))
                                 or "repeat" in groups),
        "shouting": float(shouting),
        "exclaim": min(text.count("!"), 3) / 3.0,
        "question_only": float(stripped.endswith("?") and "!" not in stripped),
    }


def load_model(path: Path = MODEL_PATH) -> IntensityModel:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if tuple(raw["features"]) != FEATURES:
        raise ValueError(f"{path}: features {raw['features']} != {list(FEATURES)}; refit "
                         "with training/fit_intensity.py")
    return IntensityModel(coef=tuple(float(c) for c in raw["coef"]),
                          intercept=float(raw["intercept"]))


@lru_cache(maxsize=1)
def default_model() -> IntensityModel:
    return load_model()


def score_intensity(text: str, sentiment: dict[str, float] | None,
                    emotion: dict[str, float] | None, hits: list[CueHit],
                    english: bool, model: IntensityModel | None = None) -> float:
    """Calibrated "how upset", 0-1 (0.25 mild, 0.5 a firm complaint, 0.75+ strongly upset)."""
    m = model or default_model()
    return round(m.predict(features(text, sentiment, emotion, hits, english)), 4)
