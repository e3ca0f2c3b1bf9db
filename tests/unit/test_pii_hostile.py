"""Hostile inputs (and fuzz crashers, kept as cases): every step must finish in linear
time. A per-test timeout guards against a hang; no timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.normalize import MAX_SCAN_FACTOR, clean_and_truncate, clean_text
from processors.pipeline import parse_inbound
from processors.redact import redact
from processors.reply import suggest_reply
from streams.logging import scrub_text

HOSTILE: list[str] = [
    "9" * 40_000,                              # the e-mail pattern took 14 s on this
    "a" * 40_000 + "@",
    "." * 40_000 + "@x.com",
    "!#$%&'*+" * 5_000,
    "1 " * 20_000,                              # digits separated by spaces (phones, cards)
    "1-" * 20_000,
    "+" + "1 (2) " * 8_000,
    "at " * 15_000,                             # spelled-out e-mail markers
    "john dot " * 5_000 + "at gmail",
    "dot " * 12_000,
    "my name is " * 4_000,
    "Mr " * 15_000,
    "12 " + "Baker " * 8_000 + "Street",
    "Via " + "Roma " * 8_000 + "5",
    "x" * 40_000 + "straße 5",
    "password is " * 4_000,
    "?token=" * 6_000,
    "GB82 " * 8_000,
    "date of birth " * 3_000,
    "\u200d" * 40_000,
    "a" + "\u200d" * 40_000 + "b",
    "\u200b" * 40_000 + "call 07700 900123",
    "\u0661" * 40_000,
    "ﷺ" * 10_000,
    "<" * 40_000,
    "<a " * 10_000,
    "<!--" * 10_000,
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: f"{t[:12]!r}x{len(t)}")
def test_hostile_text_is_processed(text: str) -> None:
    r = redact(text)
    assert redact(r.text).text == r.text
    suggest_reply(text[:5000], "anger", [])
    scrub_text(text)


@pytest.mark.timeout(20)
def test_a_megabyte_of_joiners_is_cut_at_a_bounded_prefix() -> None:
    out, cut = clean_and_truncate("\u200d" * 1_000_000, 1000)
    assert out == "" and cut
    out, cut = clean_and_truncate("\u200b" * (MAX_SCAN_FACTOR * 1000 + 5) + "hello", 1000)
    assert out == "" and cut  # past the scan cap: invisible junk, flagged


@pytest.mark.timeout(20)
def test_a_96_kb_inbound_record_parses() -> None:
    body = "a" + "\u200d" * 96_000 + "b"
    raw = ('{"message_id":"m","from":"+1","received_at":"2026-01-01T00:00:00Z","brand":"b",'
           f'"body":"{body}"}}').encode()
    assert parse_inbound(raw).body == body


def test_joiners_between_emoji_are_kept_and_loose_ones_dropped() -> None:
    assert clean_text("a \u200d\u200d b 👨\u200d👩") == "a b 👨\u200d👩"


# Inputs `make fuzz` found (tests/data/fuzz_crashers keeps the raw fuzzer inputs).
FUZZ_CRASHERS: list[str] = [
    "v@M5.5o??M.5@M5.5o??M5",  # a second pass found an e-mail glued to the first one
    "o??:3166666666I6633666666I66",  # a code's tail became a phone once its head was one
]
CRASHER_DIR = Path(__file__).resolve().parents[1] / "data" / "fuzz_crashers"


@pytest.mark.parametrize("text", FUZZ_CRASHERS)
def test_fuzz_crashers_stay_fixed(text: str) -> None:
    r = redact(text)
    assert redact(r.text).text == r.text


@pytest.mark.timeout(60)
def test_raw_fuzz_crashers_replay_through_the_fuzz_target() -> None:
    from tests.fuzz.fuzz_processors import one_input

    files = sorted(CRASHER_DIR.glob("crash-*"))
    assert files
    for path in files:
        one_input(path.read_bytes())  # raises on the failure the fuzzer found
