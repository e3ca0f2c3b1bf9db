"""The encoder candidates of issue 19 and the yardstick they are chosen by.

Why a module of its own: ``bench/quality.py`` measures; this says what each candidate is,
which figures of the customer set's held-out part the choice rests on (the targets and the
speed floor) and how one candidate's figures reduce to a row of the trade-off table, as
pure functions the unit tests check on fixed inputs.
"""

from __future__ import annotations

import random
from typing import Any

from processors.config import ModelConfig

#: name -> (ModelConfig.encoder, ModelConfig.runtime); None is all-MiniLM-L6-v2, the encoder
#: before issue 19; "minilm-int8", its int8 graph, is what the speed floor is measured against
CANDIDATES: dict[str, tuple[str | None, str]] = {
    "minilm-int8": (None, "int8"),
    "minilm-fp32": (None, "torchscript"),
    "e5-int8": ("multilingual-e5-small-latin", "int8"),
    "e5-fp32": ("multilingual-e5-small-latin", "torchscript"),
}
BASELINE = "minilm-int8"
#: a candidate slower than half of MiniLM int8's enrichment would need twice its workers
SPEED_FLOOR = 0.5
#: group -> figure -> minimum, on the customer set's held-out test part
TARGETS: dict[str, dict[str, float]] = {
    "en": {"sentiment_macro_f1": 0.80, "emotion_macro_f1": 0.55, "topic_f1": 0.75,
           "rant_f1": 0.80, "rant_precision": 0.80},
    "non_en": {"sentiment_macro_f1": 0.75, "rant_f1": 0.70, "topic_f1": 0.60},
}
_NON_EN_FIGURES = ("sentiment_macro_f1", "rant_f1", "rant_precision", "topic_f1")


def shipped(config: ModelConfig | None = None) -> str | None:
    """The candidate a default ``ModelConfig`` loads (the shipped model), if any is."""
    cfg = config or ModelConfig()
    encoder = None if cfg.encoder in (None, "all-MiniLM-L6-v2") else cfg.encoder
    return next((name for name, pair in CANDIDATES.items()
                 if pair == (encoder, cfg.runtime)), None)


def headline(group: dict[str, Any] | None) -> dict[str, float | None]:
    """The trade-off figures of one group's ``bench.customer_set.scores`` (None: no rows)."""
    if group is None:
        return dict.fromkeys(("sentiment_macro_f1", "emotion_macro_f1", "topic_f1",
                              "rant_f1", "rant_precision"))
    return {"sentiment_macro_f1": group["sentiment_macro_f1"],
            "emotion_macro_f1": group["emotion_macro_f1"],
            "topic_f1": group["topic_micro"]["f1"],
            "rant_f1": group["rant"]["f1"], "rant_precision": group["rant"]["precision"]}


def tradeoff_row(test_by_language: dict[str, Any], msgs_per_s: float | None,
                 baseline_msgs_per_s: float | None) -> dict[str, Any]:
    """One candidate's row: test-part figures (en, non-en), speed and its ratio to MiniLM
    int8's measured in the same run (None when that baseline did not run)."""
    ratio = (round(msgs_per_s / baseline_msgs_per_s, 3)
             if msgs_per_s is not None and baseline_msgs_per_s else None)
    non_en = headline(test_by_language.get("non_en"))
    return {
        "en": headline(test_by_language.get("en")),
        "non_en": {k: non_en[k] for k in _NON_EN_FIGURES},
        "msgs_per_s": msgs_per_s,
        "speed_vs_minilm_int8": ratio,
        "meets_speed_floor": ratio is not None and ratio >= SPEED_FLOOR,
    }


def targets_met(row: dict[str, Any]) -> dict[str, Any]:
    """Each target of ``TARGETS`` against a ``tradeoff_row``: value and met (a missing
    value is not met), and whether all of them and the speed floor are."""
    out: dict[str, Any] = {}
    for group, minimums in TARGETS.items():
        for figure, minimum in minimums.items():
            value = row[group][figure]
            out[f"{group}.{figure} >= {minimum}"] = {
                "value": value, "met": value is not None and value >= minimum}
    out["all_quality_targets_met"] = all(v["met"] for v in out.values())
    out["all_met_with_speed_floor"] = out["all_quality_targets_met"] and row["meets_speed_floor"]
    return out


def subsample(n: int, k: int, seed: int) -> list[int]:
    """Sorted indices of a seeded random ``k`` of ``n`` rows (all of them when k >= n)."""
    if k >= n:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), k))


def agreement(a: list[int], b: list[int]) -> float:
    """Share of rows on which two candidates predict the same label."""
    return round(sum(x == y for x, y in zip(a, b, strict=True)) / len(a), 4) if a else 0.0
