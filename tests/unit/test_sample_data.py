"""The demo's sample file: fresh against its generator, valid where meant to be, varied."""

import json
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from schemas.records import InboundSMS, SurveyReply
from scripts.make_sample import BAD_LINES, OUT, generate
from streams.replay import classify

SAMPLE = Path(OUT)


def _lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def test_checked_in_file_matches_the_generator() -> None:
    assert _lines() == generate(), "stale: run python scripts/make_sample.py"


def test_every_good_line_validates_and_every_bad_line_fails() -> None:
    good, bad = 0, 0
    for line in _lines():
        kind = classify(line.encode()).kind
        model = {"sms": InboundSMS, "survey": SurveyReply}.get(kind)
        try:
            if model is None:
                raise ValueError("unclassifiable")
            model.model_validate_json(line)
        except (ValidationError, ValueError):
            assert line in BAD_LINES, line
            bad += 1
        else:
            assert line not in BAD_LINES, line
            good += 1
    assert bad == len(BAD_LINES) >= 10
    assert good >= 250


def test_sample_is_varied() -> None:
    lines = [json.loads(x) for x in _lines() if x not in BAD_LINES]
    kinds = Counter("sms" if "message_id" in r else "survey" for r in lines)
    assert kinds["sms"] >= 150 and kinds["survey"] >= 100
    texts = " ".join(r.get("body") or r.get("comment") or "" for r in lines)
    for needle in ("STOP", "4111 1111 1111 1111", "@example.com", "+44 7700 900", "555-01",
                   "ombudsman", "solicitor", "charged twice", "😊"):
        assert needle in texts, needle
    assert len({r["brand"] for r in lines}) == 3
    senders = Counter(r["from"] for r in lines if "from" in r)
    assert max(senders.values()) >= 3  # repeat contacts feed "3rd contact in 7 days"
    assert {r["kind"] for r in lines if "kind" in r} == {"nps", "csat", "ces"}
