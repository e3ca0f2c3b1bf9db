"""The evaluation-only set written for this project: 48 customer SMS (bench/data/customer_sms.tsv).

Why here and not in ``training.data`` with the other loaders: it is never used for
training or model selection, so it lives where training code cannot import it (training
never imports ``bench``). The shared loaders and ``Split`` are ``training.data``'s.
"""

from __future__ import annotations

import csv
from pathlib import Path

from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS
from training.data import Split

CUSTOMER_SMS = Path(__file__).resolve().parent / "data" / "customer_sms.tsv"


def customer_sms() -> Split:
    """48 customer SMS written for this project (bench/data/customer_sms.tsv); evaluation only.

    ``labels`` are sentiment ids; ``gold_sets`` hold the single emotion id per row.
    Never used for training or model selection.
    """
    with CUSTOMER_SMS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return Split("customer_sms", [r["text"] for r in rows],
                 [SENTIMENT_LABELS.index(r["sentiment"]) for r in rows],
                 [(EMOTION_LABELS.index(r["emotion"]),) for r in rows])
