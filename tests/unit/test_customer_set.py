"""The customer-domain labelled set: every row valid, the parts disjoint, the held-out part
out of reach of training and tuning code.

Why: the set is the yardstick for issue 19's work; a row with a label outside the
vocabulary, a rant that disagrees with the rant rule, a text in two parts, or a training
script that reads the held-out part would make every figure measured on it wrong.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from processors.taxonomy import load_taxonomy
from training.customer_set import (
    BRANDS,
    CUSTOMER_DIR,
    HARM_KINDS,
    INTENSITY_LEVELS,
    LANGUAGES,
    VULNERABILITY_KINDS,
    CustomerRow,
    load,
    rant_rule,
    read_jsonl,
    row_problems,
)
from training.data import norm_key

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("train", "dev", "test")
HELD_OUT_FILE = "test" + ".jsonl"  # spelled apart so this file does not match its own grep


@pytest.fixture(scope="module")
def parts() -> dict[str, list[CustomerRow]]:
    return {p: read_jsonl(CUSTOMER_DIR / f"{p}.jsonl") for p in PARTS}


def test_every_row_follows_the_schema_and_the_labelling_rules(
        parts: dict[str, list[CustomerRow]]) -> None:
    topic_ids = frozenset(load_taxonomy().subjects)
    bad = {r["id"]: probs for rows in parts.values() for r in rows
           if (probs := row_problems(r, topic_ids))}
    assert bad == {}


def test_row_problems_catches_broken_rows(parts: dict[str, list[CustomerRow]]) -> None:
    topic_ids = frozenset(load_taxonomy().subjects)
    good = next(r for r in parts["train"] if r["rant"] and r["harm"])
    cases: list[tuple[str, object]] = [
        ("emotion", "annoyed"), ("intensity", 0.6), ("topics", ["no_such_topic"]),
        ("rant", False), ("language", "sv"), ("harm", ["ghosts"]), ("brand", "nobody"),
    ]
    for field, value in cases:
        broken = dict(good)
        broken[field] = value
        assert row_problems(broken, topic_ids), (field, value)  # type: ignore[arg-type]
    paperless = dict(good, text="Please switch me to paperless billing",
                     topics=["billing", "cancellation"])
    assert "paperless billing tagged cancellation" in row_problems(
        paperless, topic_ids)  # type: ignore[arg-type]


def test_size_languages_and_coverage(parts: dict[str, list[CustomerRow]]) -> None:
    rows = [r for p in PARTS for r in parts[p]]
    assert len(rows) >= 640
    langs = Counter(r["language"] for r in rows)
    assert set(langs) == set(LANGUAGES)
    assert sum(n for lang, n in langs.items() if lang != "en") / len(rows) >= 0.25
    assert {r["brand"] for r in rows} == set(BRANDS)
    assert {r["channel"] for r in rows} == {"sms", "survey"}
    assert {k for r in rows for k in r["vulnerability"]} == set(VULNERABILITY_KINDS)
    assert {k for r in rows for k in r["harm"]} == set(HARM_KINDS)
    assert {r["intensity"] for r in rows} == set(INTENSITY_LEVELS)
    assert {t for r in rows for t in r["topics"]} == set(load_taxonomy().subjects)


def test_parts_are_disjoint_by_normalised_text_and_id(
        parts: dict[str, list[CustomerRow]]) -> None:
    keys = {p: Counter(norm_key(r["text"]) for r in rows) for p, rows in parts.items()}
    for p in PARTS:
        assert max(keys[p].values()) == 1, p
    for a in PARTS:
        for b in PARTS:
            if a < b:
                assert not set(keys[a]) & set(keys[b]), (a, b)
    ids = [r["id"] for p in PARTS for r in parts[p]]
    assert len(ids) == len(set(ids))


def test_split_matches_its_record_and_its_fractions(
        parts: dict[str, list[CustomerRow]]) -> None:
    meta = json.loads((CUSTOMER_DIR / "SPLIT.json").read_text())
    assert isinstance(meta["seed"], int)
    total = sum(len(v) for v in parts.values())
    assert meta["rows"] == total
    for p in PARTS:
        assert meta["parts"][p]["rows"] == len(parts[p])
        assert meta["parts"][p]["rant"] == sum(r["rant"] for r in parts[p])
    assert 0.55 <= len(parts["train"]) / total <= 0.65
    for p in ("dev", "test"):
        assert 0.15 <= len(parts[p]) / total <= 0.25
        # stratified: every language and both rant values in every part
        assert {r["language"] for r in parts[p]} == set(LANGUAGES)
        assert {r["rant"] for r in parts[p]} == {True, False}


def test_no_training_or_tuning_code_names_the_held_out_part() -> None:
    offenders = [str(f.relative_to(ROOT)) for d in ("training", "scripts")
                 for f in (ROOT / d).rglob("*") if f.is_file() and f.suffix in (".py", ".sh", "")
                 and HELD_OUT_FILE in f.read_text(encoding="utf-8", errors="replace")]
    assert offenders == []
    makefile = (ROOT / "Makefile").read_text()
    assert HELD_OUT_FILE not in makefile


def test_the_training_loader_refuses_the_held_out_part() -> None:
    assert len(load("train")) > len(load("dev")) > 0
    with pytest.raises(ValueError):
        load("test")  # type: ignore[arg-type]


def test_rant_rule_reads_like_the_labelling_guide() -> None:
    base: CustomerRow = {
        "id": "x", "text": "x", "language": "en", "brand": "fairbank", "channel": "sms",
        "sentiment": "negative", "emotion": "anger", "intensity": 0.25, "vulnerability": [],
        "harm": [], "topics": [], "rant": False}
    assert not rant_rule(base)  # a hedged complaint is not a rant
    assert rant_rule(dict(base, intensity=0.75))  # type: ignore[arg-type]
    assert rant_rule(dict(base, vulnerability=["elderly"]))  # type: ignore[arg-type]
    assert rant_rule(dict(base, harm=["fraud"]))  # type: ignore[arg-type]
    assert not rant_rule(dict(base, sentiment="neutral", intensity=0.0,  # type: ignore[arg-type]
                              harm=["already_left"]))


def test_labelling_guide_names_every_label() -> None:
    guide = (CUSTOMER_DIR / "LABELLING.md").read_text()
    for word in (*VULNERABILITY_KINDS, *HARM_KINDS, *BRANDS, *load_taxonomy().subjects):
        assert word in guide, word
