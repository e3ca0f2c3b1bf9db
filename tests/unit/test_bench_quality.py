"""The candidate benchmark's scoring computes what its names say.

Why: bench/results/quality.json is what issue 19's encoder is chosen by; a wrong confusion
count, a vulnerability flag read from the wrong reason or a target checked the wrong way
round would pick the wrong encoder. Figures below are worked out by hand.
"""

from __future__ import annotations

from typing import Any

from bench.candidates import agreement, shipped, subsample, targets_met, tradeoff_row
from bench.customer_set import by_language, confusion, flags, scores
from training.customer_set import CustomerRow


def _row(lang: str, sentiment: str, emotion: str, *, vulnerable: bool = False,
         harm: bool = False, rant: bool = False) -> CustomerRow:
    return CustomerRow(id="x", text="t", language=lang, brand="fairbank", channel="sms",
                       sentiment=sentiment, emotion=emotion, intensity=0.5,
                       vulnerability=["elderly"] if vulnerable else [],
                       harm=["fraud"] if harm else [], topics=["billing"], rant=rant)


def _pred(sentiment: str, emotion: str, reasons: list[str], *, rant: bool = False,
          intensity: float = 0.5) -> dict[str, Any]:
    return {"sentiment": sentiment, "emotion": emotion, "topics": {"billing"}, "rant": rant,
            "language": "en", "urgency": "low", "intensity": intensity, **flags(reasons)}


def test_flags_read_the_reason_prefixes_only() -> None:
    assert flags(["vulnerable: an elderly person", "negative sentiment"]) == {
        "vulnerable": True, "harm": False}
    assert flags(["harm: physical danger"]) == {"vulnerable": False, "harm": True}
    # the pre-issue-19 keyword reason does not start with the prefix: not a detection
    assert flags(["possibly vulnerable customer ('carer')"]) == {
        "vulnerable": False, "harm": False}


def test_confusion_counts_gold_rows_by_predicted_column() -> None:
    res = confusion(["anger", "anger", "joy", "sadness"], ["anger", "sadness", "joy", "anger"],
                    ["anger", "joy", "sadness"])
    assert res["matrix"] == [[1, 0, 1], [0, 1, 0], [1, 0, 0]]
    assert res["labels"] == ["anger", "joy", "sadness"]
    # a label outside the list is not counted on either side
    assert confusion(["anger", "fear"], ["fear", "anger"], ["anger"])["matrix"] == [[0]]


def test_vulnerability_harm_and_intensity_scores() -> None:
    rows = [_row("en", "negative", "anger", vulnerable=True, rant=True),
            _row("en", "negative", "fear", harm=True),
            _row("fr", "neutral", "neutral"),
            _row("fr", "positive", "joy", vulnerable=True)]
    preds = [_pred("negative", "anger", ["vulnerable: a medical need"], rant=True, intensity=1.0),
             _pred("negative", "anger", ["vulnerable: money trouble"], intensity=0.5),
             _pred("neutral", "neutral", ["harm: physical danger"], intensity=0.25),
             _pred("positive", "joy", [], intensity=0.5)]
    res = scores(rows, preds, ["negative", "neutral", "neutral", "positive"])
    assert res["vulnerability"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                    "support": 2, "flagged": 2}
    assert res["harm"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                           "support": 1, "flagged": 1}
    assert res["intensity_mae"] == round((0.5 + 0 + 0.25 + 0) / 4, 3)
    assert res["rant"]["f1"] == 1.0
    assert res["sentiment_macro_f1"] == 1.0
    # VADER: negative 1 of 2 found (F1 0.667), neutral 1 right 1 wrong (0.667), positive 1.0
    assert res["vader_sentiment_macro_f1"] == round((0.667 + 0.667 + 1.0) / 3, 3)
    groups = by_language(rows, preds, ["negative"] * 4)
    assert groups["en"]["vulnerability"]["recall"] == 1.0
    assert groups["non_en"]["vulnerability"]["recall"] == 0.0
    assert set(groups) == {"en", "non_en", "fr"}  # languages without rows are left out
    assert groups["fr"]["harm"]["flagged"] == 1


def _by_language(en_sent: float, non_en_rant_f1: float) -> dict[str, Any]:
    def group(sent: float, rant_f1: float, rant_p: float, topic_f1: float) -> dict[str, Any]:
        return {"sentiment_macro_f1": sent, "emotion_macro_f1": 0.6,
                "topic_micro": {"precision": 1.0, "recall": 1.0, "f1": topic_f1},
                "rant": {"precision": rant_p, "recall": 1.0, "f1": rant_f1}}

    return {"en": group(en_sent, 0.85, 0.8, 0.75), "non_en": group(0.8, non_en_rant_f1, 0.5, 0.6)}


def test_tradeoff_row_and_targets() -> None:
    row = tradeoff_row(_by_language(0.81, 0.7), 60.0, 120.0)
    assert row["speed_vs_minilm_int8"] == 0.5 and row["meets_speed_floor"] is True
    assert row["en"]["rant_precision"] == 0.8 and row["non_en"]["topic_f1"] == 0.6
    met = targets_met(row)
    assert met["en.sentiment_macro_f1 >= 0.8"] == {"value": 0.81, "met": True}
    assert met["all_quality_targets_met"] is True  # every minimum met exactly counts as met
    assert met["all_met_with_speed_floor"] is True

    slow = tradeoff_row(_by_language(0.79, 0.7), 59.0, 120.0)
    assert slow["speed_vs_minilm_int8"] == 0.492 and slow["meets_speed_floor"] is False
    met = targets_met(slow)
    assert met["en.sentiment_macro_f1 >= 0.8"]["met"] is False
    assert met["non_en.rant_f1 >= 0.7"]["met"] is True
    assert met["all_quality_targets_met"] is False


def test_missing_group_or_baseline_is_not_met() -> None:
    row = tradeoff_row({"en": _by_language(0.9, 0.9)["en"]}, 50.0, None)
    assert row["speed_vs_minilm_int8"] is None and row["meets_speed_floor"] is False
    assert row["non_en"]["sentiment_macro_f1"] is None
    met = targets_met(row)
    assert met["non_en.sentiment_macro_f1 >= 0.75"] == {"value": None, "met": False}
    assert met["en.sentiment_macro_f1 >= 0.8"]["met"] is True


def test_subsample_is_seeded_sorted_and_capped() -> None:
    a = subsample(100, 10, 19)
    assert a == subsample(100, 10, 19) and a == sorted(a) and len(set(a)) == 10
    assert a != subsample(100, 10, 20)
    assert subsample(5, 10, 19) == [0, 1, 2, 3, 4]


def test_agreement() -> None:
    assert agreement([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    assert agreement([], []) == 0.0


def test_shipped_candidate_follows_the_default_config() -> None:
    from processors.config import ModelConfig

    assert shipped(ModelConfig(encoder=None, runtime="int8")) == "minilm-int8"
    assert shipped(ModelConfig(encoder="all-MiniLM-L6-v2", runtime="torchscript")) == "minilm-fp32"
    assert shipped(ModelConfig(encoder="multilingual-e5-small-latin")) == "e5-int8"
    assert shipped(ModelConfig(encoder="multilingual-e5-small", runtime="int8")) is None
