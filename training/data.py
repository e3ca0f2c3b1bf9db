"""Loaders for the labelled sets in ``../shared/data`` used by training and benchmarks.

Training (``scripts/train_heads.py``) and the quality benchmark read the data
through the same functions, so the splits, label maps and text clean-up can
never drift apart between what was trained on and what is reported. This module
belongs to training (the benchmark imports it, never the other way round); the
evaluation-only set written for this project, ``customer_sms``, lives in ``bench/data.py``
so training code cannot even reach it.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS

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


def _written_here(name: str) -> list[dict[str, str]]:
    """Rows of a tab-separated set written for this project (``training/data/<name>.tsv``)."""
    path = Path(__file__).resolve().parent / "data" / f"{name}.tsv"
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


# BANKING77 intents as weak sentiment labels for customer-service text (training only).
# Intents that report something gone wrong (a charge, a decline, a loss, a fault) are
# complaints even when worded as a plain fact or a question ("I got charged twice for the
# same payment"): "negative". Intents that ask how to do something or what something costs
# are "neutral". Intents that mix both kinds of message (card_arrival, pending_*,
# transfer_timing, request_refund, terminate_account, ...) are left out. The labels come
# from the intent alone; no row was labelled by reading it.
BANKING77_NEGATIVE = frozenset({
    "Refund_not_showing_up", "balance_not_updated_after_bank_transfer",
    "balance_not_updated_after_cheque_or_cash_deposit", "beneficiary_not_allowed",
    "card_not_working", "card_payment_fee_charged", "card_payment_not_recognised",
    "card_payment_wrong_exchange_rate", "card_swallowed", "cash_withdrawal_charge",
    "cash_withdrawal_not_recognised", "compromised_card", "contactless_not_working",
    "declined_card_payment", "declined_cash_withdrawal", "declined_transfer",
    "direct_debit_payment_not_recognised", "extra_charge_on_statement", "failed_transfer",
    "lost_or_stolen_card", "lost_or_stolen_phone", "pin_blocked", "top_up_failed",
    "top_up_reverted", "transaction_charged_twice", "transfer_fee_charged",
    "unable_to_verify_identity", "virtual_card_not_working", "wrong_amount_of_cash_received",
    "wrong_exchange_rate_for_cash_withdrawal",
})
BANKING77_NEUTRAL = frozenset({
    "activate_my_card", "age_limit", "apple_pay_or_google_pay", "atm_support",
    "automatic_top_up", "card_about_to_expire", "card_acceptance", "card_delivery_estimate",
    "change_pin", "country_support", "disposable_card_limits", "edit_personal_details",
    "exchange_charge", "exchange_rate", "exchange_via_app", "fiat_currency_support",
    "get_disposable_virtual_card", "getting_spare_card", "getting_virtual_card",
    "order_physical_card", "receiving_money", "supported_cards_and_currencies",
    "top_up_by_bank_transfer_charge", "top_up_by_card_charge", "top_up_by_cash_or_cheque",
    "top_up_limits", "transfer_into_account", "verify_my_identity", "verify_top_up",
    "visa_or_mastercard",
})


def banking77_sentiment(split: str) -> Split:
    """BANKING77 ``train`` or ``test`` rows of the mapped intents, with weak sentiment labels
    (``BANKING77_NEGATIVE`` / ``BANKING77_NEUTRAL``); the other intents are dropped."""
    texts: list[str] = []
    labels: list[int] = []
    with (DATA_DIR / "banking77" / f"{split}.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            intent = row["category"]
            if intent in BANKING77_NEGATIVE:
                label = "negative"
            elif intent in BANKING77_NEUTRAL:
                label = "neutral"
            else:
                continue
            texts.append(_WS.sub(" ", row["text"]).strip())
            labels.append(SENTIMENT_LABELS.index(label))
    return Split(f"banking77_sentiment_{split}", texts, labels)


def customer_dev() -> Split:
    """60 customer messages written for choosing between training variants (20 negative,
    20 neutral, 20 positive; training/data/customer_dev.tsv). Model selection only: never
    trained on, and kept apart from the 48 test SMS of ``bench.data.customer_sms``."""
    rows = _written_here("customer_dev")
    return Split("customer_dev", [r["text"] for r in rows],
                 [SENTIMENT_LABELS.index(r["sentiment"]) for r in rows])
