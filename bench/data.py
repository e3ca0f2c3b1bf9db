"""Loaders for the labelled sets in ``../shared/data`` used by training and benchmarks.

Training (``scripts/train_heads.py``) and the quality benchmark read the data
through the same functions, so the splits, label maps and text clean-up can
never drift apart between what was trained on and what is reported.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from processors.types import EMOTION_LABELS, SENTIMENT_LABELS

DATA_DIR = Path(
    os.environ.get("VOC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)

_MENTION = re.compile(r"@\w+")
_WS = re.compile(r"\s+")
_NORM_PUNCT = re.compile(r"[^\w\s@]")
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Split:
    """Texts with single-label ids (``labels``) and, for multi-label data, all gold ids."""

    name: str
    texts: list[str]
    labels: list[int]
    gold_sets: list[tuple[int, ...]] | None = None


def clean_tweet(text: str) -> str:
    """Mask user mentions like TweetEval does and collapse whitespace."""
    return _WS.sub(" ", _MENTION.sub("@user", text)).strip()


def norm_key(text: str) -> str:
    """Normalised text used to detect overlap between training and test sets."""
    t = _URL.sub("", text.lower())
    t = _MENTION.sub("@user", t)
    t = _NORM_PUNCT.sub("", t)
    return _WS.sub(" ", t).strip()


def semeval2017() -> Split:
    """SemEval-2013..2016 Task 4A pool (47k tweets), already deduped against TweetEval val/test."""
    texts: list[str] = []
    labels: list[int] = []
    for part in sorted((DATA_DIR / "semeval2017_task4a").glob("train_part*.tsv")):
        with part.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                texts.append(clean_tweet(row["text"]))
                labels.append(SENTIMENT_LABELS.index(row["label"]))
    return Split("semeval2017_4a", texts, labels)


def tweeteval(split: str) -> Split:
    """TweetEval sentiment ``val`` (model selection) or ``test`` (report only)."""
    base = DATA_DIR / "tweeteval" / "sentiment"
    texts = [clean_tweet(t) for t in (base / f"{split}_text.txt").read_text("utf-8").splitlines()]
    labels = [int(x) for x in (base / f"{split}_labels.txt").read_text("utf-8").split()]
    assert len(texts) == len(labels)
    return Split(f"tweeteval_{split}", texts, labels)


def uci_sentences() -> Split:
    """UCI Amazon + Yelp review sentences: 0 negative / 1 positive, no neutral class.

    Labels are mapped into SENTIMENT_LABELS ids (0 negative, 2 positive).
    """
    texts: list[str] = []
    labels: list[int] = []
    for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt"):
        for line in (DATA_DIR / "uci_sentiment_labelled_sentences" / name).read_text(
            "utf-8"
        ).splitlines():
            text, _, lab = line.rpartition("\t")
            if text:
                texts.append(_WS.sub(" ", text).strip())
                labels.append(2 if lab.strip() == "1" else 0)
    return Split("uci_sentences", texts, labels)


def goemotions(split: str, taxonomy: str = "ekman") -> Split:
    """GoEmotions ``train``/``dev``/``test``; ``labels`` = first gold label, ``gold_sets`` = all.

    For ``ekman`` the ids are EMOTION_LABELS ids (same order as ekman/labels.txt).
    """
    base = DATA_DIR / "goemotions" / taxonomy
    names = (base / "labels.txt").read_text("utf-8").split()
    if taxonomy == "ekman":
        assert tuple(names) == EMOTION_LABELS, names
    texts: list[str] = []
    labels: list[int] = []
    golds: list[tuple[int, ...]] = []
    for line in (base / f"{split}.tsv").read_text("utf-8").splitlines():
        text, ids, _cid = line.split("\t")
        gold = tuple(int(x) for x in ids.split(","))
        texts.append(_WS.sub(" ", text).strip())
        labels.append(gold[0])
        golds.append(gold)
    return Split(f"goemotions_{taxonomy}_{split}", texts, labels, golds)


# GoEmotions sentiment groups (ambiguous, negative, neutral, positive) -> SENTIMENT_LABELS ids.
GROUP_TO_SENTIMENT: dict[int, int | None] = {0: None, 1: 0, 2: 1, 3: 2}


def goemotions_sentiment(split: str) -> Split:
    """GoEmotions sentiment groups as 3-class sentiment (rows with 'ambiguous' or mixed dropped)."""
    g = goemotions(split, "group")
    texts: list[str] = []
    labels: list[int] = []
    for text, gold in zip(g.texts, g.gold_sets or [], strict=True):
        mapped = {GROUP_TO_SENTIMENT[x] for x in gold}
        if len(mapped) == 1 and None not in mapped:
            texts.append(text)
            labels.append(mapped.pop())  # type: ignore[arg-type]
    return Split(f"goemotions_group_{split}", texts, labels)


def customer_sms() -> Split:
    """48 customer SMS written for this project (bench/data/customer_sms.tsv); evaluation only.

    ``labels`` are sentiment ids; ``gold_sets`` hold the single emotion id per row.
    Never used for training or model selection.
    """
    path = Path(__file__).resolve().parent / "data" / "customer_sms.tsv"
    texts: list[str] = []
    labels: list[int] = []
    golds: list[tuple[int, ...]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            texts.append(row["text"])
            labels.append(SENTIMENT_LABELS.index(row["sentiment"]))
            golds.append((EMOTION_LABELS.index(row["emotion"]),))
    return Split("customer_sms", texts, labels, golds)
