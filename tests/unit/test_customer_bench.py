"""The customer-set benchmark's metrics compute what their names say.

Why: bench/results/customer_set.json is the baseline issue 19's work is judged against; a
wrong F1 there would misstate every later gain. Figures below are worked out by hand.
"""

from __future__ import annotations

from bench.customer_set import binary, macro_f1, micro_f1_sets, per_label


def test_per_label_and_macro_f1() -> None:
    gold = ["anger", "anger", "neutral", "joy"]
    pred = ["anger", "neutral", "neutral", "neutral"]
    pl = per_label(gold, pred, ["anger", "neutral", "joy"])
    assert pl["anger"] == {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 1 + 1}
    assert pl["neutral"]["precision"] == 0.333 and pl["neutral"]["recall"] == 1.0
    assert pl["joy"]["f1"] == 0.0
    # labels absent from gold and predictions do not drag the mean down
    assert macro_f1(gold, pred, ["anger", "neutral", "joy", "fear"]) == round(
        (0.667 + 0.5 + 0.0) / 3, 3)


def test_micro_f1_over_topic_sets() -> None:
    gold = [{"billing", "cancellation"}, set(), {"outage"}]
    pred = [{"billing"}, {"pricing"}, {"outage"}]
    assert micro_f1_sets(gold, pred) == {"precision": 0.667, "recall": 0.667, "f1": 0.667}


def test_binary_rant_scores() -> None:
    res = binary([True, True, False, False], [True, False, True, False])
    assert res == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "flagged": 2}
