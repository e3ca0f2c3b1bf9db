"""Scoring rules shared by training (model selection) and the quality benchmark.

Emotion data (GoEmotions) is multi-label, but the product emits one emotion
distribution and reports its argmax. Rule used everywhere, for our model and
every baseline alike: a prediction is scored against the gold label it matches
if it is among the gold labels, otherwise against the first gold label; then
ordinary single-label macro-F1 over the 7 Ekman classes. (About 9% of test rows
have more than one label; a strict single-label-rows-only score is reported too.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def resolve_gold(pred: Sequence[int], gold_sets: Sequence[Sequence[int]]) -> list[int]:
    """Per row: the predicted label if it is gold, else the first gold label."""
    return [p if p in g else g[0] for p, g in zip(pred, gold_sets, strict=True)]


def sentiment_scores(gold: Sequence[int], pred: Sequence[int],
                     labels: Sequence[int] = (0, 1, 2)) -> dict[str, float]:
    """Macro-F1 over ``labels`` and accuracy."""
    return {
        "macro_f1": round(float(f1_score(gold, pred, labels=list(labels), average="macro",
                                         zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "n": len(gold),
    }


def emotion_scores(gold_sets: Sequence[Sequence[int]], pred: Sequence[int],
                   n_labels: int = 7) -> dict[str, float]:
    """Macro-F1 with the match-any rule, plus accuracy and the single-label-rows-only F1."""
    pred = [int(p) for p in pred]
    gold = resolve_gold(pred, gold_sets)
    labels = list(range(n_labels))
    single = [i for i, g in enumerate(gold_sets) if len(g) == 1]
    return {
        "macro_f1": round(float(f1_score(gold, pred, labels=labels, average="macro",
                                         zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1_single_label_rows": round(float(f1_score(
            [gold_sets[i][0] for i in single], [pred[i] for i in single], labels=labels,
            average="macro", zero_division=0)), 4),
        "n": len(pred),
    }


def argmax(probs: np.ndarray) -> list[int]:
    """Row-wise argmax as python ints."""
    return [int(x) for x in np.asarray(probs).argmax(axis=-1)]
