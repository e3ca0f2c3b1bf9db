"""The Enricher with its REAL default analyzer (MiniLM + shipped heads), and `voc enrich`
as a user runs it (a subprocess, real settings, real models)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.config import EnrichConfig
from processors.pipeline import Enricher
from schemas.records import InboundSMS, SurveyReply

NOW = datetime(2026, 11, 25, 18, 5, tzinfo=UTC)


def sms(body: str, mid: str = "SM1") -> InboundSMS:
    return InboundSMS.model_validate({
        "message_id": mid, "from": "+447700900999", "body": body,
        "received_at": "2026-11-25T18:00:00Z", "brand": "acme-mobile", "customer_id": "C1"})


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher(EnrichConfig())


def test_real_models_on_clear_cases(enricher: Enricher) -> None:
    rant, happy, outage = enricher.enrich_batch([
        sms("You charged me TWICE for one order and nobody answers!!! I'm cancelling "
            "and going to the ombudsman. Call me on 07700 900123", "A"),
        sms("Thank you so much, the engineer was brilliant and fixed it in minutes", "B"),
        sms("no internet since this morning, the whole street is down", "C"),
    ], recent_contacts=[3, 1, 1], now=NOW)
    fb = rant.feedback
    assert fb.sentiment.label == "negative" and fb.sentiment.score < -0.3
    assert fb.is_rant and fb.urgency.level in ("high", "critical")
    assert {"billing", "cancellation"} <= {t.name for t in fb.topics}
    assert "07700" not in fb.text and fb.pii.kinds == ["phone"]
    assert rant.followup is not None and "twice" in rant.followup.suggested_reply
    assert fb.model.encoder == enricher.analyzer.name

    assert happy.feedback.sentiment.label == "positive" and not happy.feedback.is_rant
    assert happy.followup is None
    assert "outage" in {t.name for t in outage.feedback.topics}


def test_real_models_survey_without_comment(enricher: Enricher) -> None:
    reply = SurveyReply.model_validate({
        "response_id": "R1", "survey_id": "S1", "customer_id": "C1", "brand": "b",
        "submitted_at": "2026-11-25T18:00:00Z", "kind": "nps", "score": 1})
    (res,) = enricher.enrich_batch([reply], now=NOW)
    assert res.feedback.sentiment.label == "negative"
    assert "NPS detractor (1)" in res.feedback.urgency.reasons


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=300), min_size=1, max_size=4))
def test_real_enrich_never_raises(enricher: Enricher, texts: list[str]) -> None:
    out = enricher.enrich_batch([sms(t, f"P{i}") for i, t in enumerate(texts)], now=NOW)
    for res in out:
        res.feedback.model_dump_json().encode("utf-8")


def test_voc_enrich_cli_real_models(tmp_path: Path) -> None:
    good = {"message_id": "SM1", "from": "+447700900123", "received_at": "2026-11-25T18:00:00Z",
            "brand": "acme", "body": "my bill is wrong again, card 4111 1111 1111 1111"}
    survey = {"response_id": "R1", "survey_id": "S1", "customer_id": "C1", "brand": "acme",
              "submitted_at": "2026-11-25T18:00:00Z", "kind": "csat", "score": 5,
              "comment": "great help, thanks"}
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([json.dumps(good), '{"message_id": "x", "body": 5}',
                              json.dumps(survey)]) + "\n")
    out = tmp_path / "out.jsonl"
    voc = Path(sys.executable).with_name("voc")
    proc = subprocess.run([str(voc), "enrich", "--input", str(src), "--output", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "line 2: invalid_record" in proc.stderr
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["id"] for d in docs] == ["sms:SM1", "survey:R1"]
    assert "[CARD]" in docs[0]["text"] and "4111" not in out.read_text()
    assert docs[1]["sentiment"]["label"] == "positive"


def test_hand_written_customer_messages(enricher: Enricher) -> None:
    """Customer messages written for this test (tests/data/enrich_cases.jsonl) with the
    topics and rant decision a support lead would expect. Not a benchmark (the taxonomy's
    keywords were written by the same person): a guard against regressions."""
    cases = [json.loads(line) for line in
             (Path(__file__).parents[1] / "data/enrich_cases.jsonl").read_text().splitlines()]
    out = enricher.enrich_batch([sms(c["text"], f"K{i}") for i, c in enumerate(cases)], now=NOW)
    tp = fp = fn = rant_ok = 0
    for case, res in zip(cases, out, strict=True):
        got, want = {t.name for t in res.feedback.topics}, set(case["topics"])
        tp, fp, fn = tp + len(got & want), fp + len(got - want), fn + len(want - got)
        rant_ok += res.feedback.is_rant == case["rant"]
    assert tp / (tp + fp) >= 0.8 and tp / (tp + fn) >= 0.8
    assert rant_ok / len(cases) >= 0.8
