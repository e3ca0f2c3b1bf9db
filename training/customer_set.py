"""The customer-domain labelled set written for this project: its label vocabulary, the
rules every row must satisfy, and the loader for the parts training may read.

Why a module of its own: the split script, the schema tests and the benchmark must agree
on one definition of a valid row (``row_problems``) and of a rant (``rant_rule``); the
rules themselves are written out for humans in ``training/data/customer/LABELLING.md``.

Training and tuning read ``train`` and ``dev`` only, through ``load``. The held-out part
is read by ``bench/customer_set.py`` alone (a unit test greps ``training/`` and
``scripts/`` to keep it that way).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, TypedDict

from processors.language import LANGUAGES
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS

CUSTOMER_DIR = Path(__file__).resolve().parent / "data" / "customer"

TrainingPart = Literal["train", "dev"]

# LANGUAGES (the languages customers write in) is owned by processors.language
CHANNELS: tuple[str, ...] = ("sms", "survey")
INTENSITY_LEVELS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
#: brand id -> brand type (the five kinds of business the pipeline serves)
BRANDS: dict[str, str] = {
    "acme-mobile": "telecom",
    "acme-broadband": "telecom",
    "northwind-energy": "energy",
    "harbour-retail": "retail",
    "fairbank": "banking",
    "olive-kitchen": "hospitality",
}
VULNERABILITY_KINDS: tuple[str, ...] = (
    "elderly", "isolated", "dependant", "medical", "disability", "financial_hardship",
    "bereavement",
)
HARM_KINDS: tuple[str, ...] = (
    "fraud", "food_hygiene", "staff_abuse", "essential_service_loss", "safety", "already_left",
)
#: a harm always comes with (one of) the topics it is about
HARM_TOPIC: dict[str, tuple[str, ...]] = {
    "fraud": ("billing", "digital"),
    "food_hygiene": ("product",),
    "staff_abuse": ("staff",),
    "essential_service_loss": ("outage",),
    "already_left": ("cancellation",),
}


class CustomerRow(TypedDict):
    """One labelled message (one JSONL line)."""

    id: str
    text: str
    language: str
    brand: str
    channel: str
    sentiment: str
    emotion: str
    intensity: float
    vulnerability: list[str]
    harm: list[str]
    topics: list[str]
    rant: bool


def rant_rule(row: CustomerRow) -> bool:
    """A rant needs a fast human follow-up: a negative message that is strongly upset
    (intensity >= 0.75), or from a vulnerable person, or that reports a harm."""
    return row["sentiment"] == "negative" and (
        row["intensity"] >= 0.75 or bool(row["vulnerability"]) or bool(row["harm"]))


def row_problems(row: CustomerRow, topic_ids: frozenset[str]) -> list[str]:
    """Every way ``row`` breaks the schema or the labelling rules (empty when it is valid)."""
    p: list[str] = []
    expected = set(CustomerRow.__annotations__)
    if set(row) != expected:
        return [f"fields {sorted(set(row) ^ expected)} missing or unknown"]
    if not row["text"].strip():
        p.append("empty text")
    if row["language"] not in LANGUAGES:
        p.append(f"language {row['language']!r}")
    if row["brand"] not in BRANDS:
        p.append(f"brand {row['brand']!r}")
    if row["channel"] not in CHANNELS:
        p.append(f"channel {row['channel']!r}")
    if row["sentiment"] not in SENTIMENT_LABELS:
        p.append(f"sentiment {row['sentiment']!r}")
    if row["emotion"] not in EMOTION_LABELS:
        p.append(f"emotion {row['emotion']!r}")
    if row["intensity"] not in INTENSITY_LEVELS:
        p.append(f"intensity {row['intensity']!r} not on the 5-level scale")
    for field, vocab in (("vulnerability", VULNERABILITY_KINDS), ("harm", HARM_KINDS),
                         ("topics", tuple(topic_ids))):
        values = row[field]  # type: ignore[literal-required]
        if len(set(values)) != len(values) or any(v not in vocab for v in values):
            p.append(f"{field} {values!r}")
    if not isinstance(row["rant"], bool) or row["rant"] != rant_rule(row):
        p.append(f"rant {row['rant']!r} breaks the rant rule")
    # consistency between labels (LABELLING.md, "Consistency rules")
    s, e, i = row["sentiment"], row["emotion"], row["intensity"]
    if s == "negative" and i == 0.0:
        p.append("negative with intensity 0")
    if s != "negative" and i != 0.0:
        p.append(f"{s} with intensity {i}")
    if s == "negative" and e == "joy":
        p.append("negative with joy")
    if s == "positive" and e not in ("joy", "surprise"):
        p.append(f"positive with {e}")
    if s == "neutral" and e not in ("neutral", "surprise"):
        p.append(f"neutral with {e}")
    for h in row["harm"]:
        if h in HARM_TOPIC and not set(HARM_TOPIC[h]) & set(row["topics"]):
            p.append(f"harm {h} without any topic of {HARM_TOPIC[h]}")
    if "paperless" in row["text"].lower() and "cancellation" in row["topics"]:
        p.append("paperless billing tagged cancellation")
    return p


def read_jsonl(path: Path) -> list[CustomerRow]:
    """Rows of one split file."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load(part: TrainingPart) -> list[CustomerRow]:
    """The ``train`` or ``dev`` part (the only parts training and tuning may read)."""
    if part not in ("train", "dev"):
        raise ValueError(f"training code may read train or dev only, not {part!r}")
    return read_jsonl(CUSTOMER_DIR / f"{part}.jsonl")
