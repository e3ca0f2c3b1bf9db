"""Every case of the bad-input corpus (tests/data/bad_inputs) through the real code.

Two levels, both with the real Enricher (real encoder and heads):

* ``parse_inbound`` alone: a bad case raises ``InvalidInput`` with the manifest's
  reason (never any other exception); a valid case returns a record;
* the enrich agent's batch handler (``EnrichHandler``, exactly what the worker runs
  per micro-batch): every case comes out as one dead letter with the expected reason
  and its original bytes, or as one EnrichedFeedback that is valid, UTF-8 encodable,
  bounded in size and free of the planted PII.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from processors.config import EnrichConfig
from processors.pipeline import Enricher, InvalidInput, parse_inbound
from schemas.records import DeadLetter, EnrichedFeedback, FollowUp
from streams.deadletter import MAX_ORIGINAL_BYTES, DeadLetterPolicy, original_hmac
from streams.handlers.common import RawEvent
from streams.handlers.enrich import EnrichHandler
from streams.metrics import Metrics
from tests.data.bad_inputs.corpus import PLANTED, Case, load

CORPUS = load()
TOPICS = {"sms": "t.voc.sms.inbound", "survey": "t.voc.survey.replies"}


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher(EnrichConfig())


def test_corpus_covers_what_the_issue_lists() -> None:
    names = {c.case for c in CORPUS}
    for must in ("invalid_json_truncated", "number_body", "missing_body", "extra_fields",
                 "unknown_schema_version", "empty_body", "whitespace_body", "body_1mb_words",
                 "invalid_utf8_in_body", "escaped_control_chars", "emoji_only", "rtl_arabic",
                 "html_script", "search_query_syntax", "long_token", "pii_everywhere"):
        assert must in names
    assert any(len(c.payload) >= 1_000_000 for c in CORPUS), "no 1 MB payload"
    assert len(names) == len(CORPUS), "case names must be unique"


@pytest.mark.parametrize("case", [c for c in CORPUS if c.payload], ids=lambda c: c.case)
def test_parse_inbound_accepts_or_rejects_with_a_reason(case: Case) -> None:
    if case.deadletter_reason:
        with pytest.raises(InvalidInput) as err:
            parse_inbound(case.payload, case.source)
        assert err.value.reason == case.deadletter_reason, err.value
        assert str(err.value)
    else:
        record = parse_inbound(case.payload, case.source)
        assert type(record).__name__ in ("InboundSMS", "SurveyReply")


KEY = b"k" * 32
KEEP = DeadLetterPolicy(hash_key=KEY, keep_original=True)


def _run_handler(enricher: Enricher, cases: list[Case], policy: DeadLetterPolicy = KEEP
                 ) -> tuple[Any, Metrics]:
    metrics = Metrics(CollectorRegistry())
    handler = EnrichHandler(enricher=enricher, parse=parse_inbound,
                            sources={v: k for k, v in TOPICS.items()}, metrics=metrics,
                            deadletters=policy)
    events = [RawEvent(topic=TOPICS[c.source], partition=0, offset=i, key=c.case.encode(),
                       value=c.payload) for i, c in enumerate(cases)]
    return asyncio.run(handler.handle(events)), metrics


def _pii_needles() -> list[str]:
    out = []
    for values in PLANTED.values():
        for v in values:
            out.append(v)
            digits = re.sub(r"\D", "", v)
            if len(digits) >= 9:
                out.append(digits)
    return out


def test_by_default_dead_letters_keep_a_redacted_preview_and_a_keyed_hash_only(
    enricher: Enricher,
) -> None:
    bad = [c for c in CORPUS if c.deadletter_reason]
    outputs, _ = _run_handler(enricher, bad, DeadLetterPolicy(hash_key=KEY))
    dead = [DeadLetter.model_validate_json(r.value) for r in outputs.for_topic("deadletter")]
    assert len(dead) == len(bad)
    for d in dead:
        payload = bad[d.offset or 0].payload
        assert d.original_b64 == "" and d.original_kept is False
        assert d.original_hmac == original_hmac(payload, KEY) and d.original_size == len(payload)
    wire = b"".join(r.value for r in outputs.for_topic("deadletter")).decode("utf-8")
    leaked = [n for n in _pii_needles() if n in wire]
    assert not leaked, f"planted PII on the dead-letter topic: {leaked[:5]}"


def test_whole_corpus_through_the_enrich_handler(enricher: Enricher) -> None:
    outputs, metrics = _run_handler(enricher, CORPUS)
    dead = [DeadLetter.model_validate_json(r.value) for r in outputs.for_topic("deadletter")]
    enriched = [EnrichedFeedback.model_validate_json(r.value)
                for r in outputs.for_topic("enriched")]
    followups = [FollowUp.model_validate_json(r.value) for r in outputs.for_topic("followups")]

    by_offset = {d.offset: d for d in dead}
    expected_dead = {i: c for i, c in enumerate(CORPUS) if c.deadletter_reason}
    wrong = {c.case: (c.deadletter_reason, by_offset[i].reason if i in by_offset else None)
             for i, c in expected_dead.items()
             if i not in by_offset or by_offset[i].reason != c.deadletter_reason}
    assert not wrong, f"(expected, got) per case: {wrong}"
    assert len(dead) == len(expected_dead), "a valid case was dead-lettered"
    for i, d in by_offset.items():
        original, payload = base64.b64decode(d.original_b64), CORPUS[i].payload
        if len(payload) > MAX_ORIGINAL_BYTES:  # capped to fit a Kafka request, and said so
            assert original == payload[:MAX_ORIGINAL_BYTES] and "truncated" in d.error
        else:
            assert original == payload, f"{CORPUS[i].case}: original bytes changed"
        assert d.error and len(d.error) <= 500

    valid = [c for c in CORPUS if not c.deadletter_reason]
    assert len(enriched) == len(valid)
    for fb, wire in zip(enriched, outputs.for_topic("enriched"), strict=True):
        wire.value.decode("utf-8")  # no lone surrogates or broken bytes on the wire
        assert len(fb.text) <= EnrichConfig().max_text_chars
        assert -1.0 <= fb.sentiment.score <= 1.0
    blob = b"\n".join(r.value for r in outputs.records if r.topic != "deadletter").decode()
    leaks = [n for n in _pii_needles() if n in blob]
    assert not leaks, f"planted PII survived enrichment: {leaks}"
    assert {fu.feedback_id for fu in followups} == {fb.id for fb in enriched if fb.is_rant}

    assert metrics.value("voc_messages_in_total", {"source": "sms"}) + \
        metrics.value("voc_messages_in_total", {"source": "survey"}) == len(CORPUS)
    reasons: dict[str, int] = {}
    for c in CORPUS:
        if c.deadletter_reason:
            reasons[c.deadletter_reason] = reasons.get(c.deadletter_reason, 0) + 1
    for reason, n in reasons.items():
        assert metrics.value("voc_deadletter_total", {"reason": reason}) == n


def test_each_valid_case_alone_is_enriched(enricher: Enricher) -> None:
    """A batch of one must behave like the big batch (no cross-talk between items)."""
    for c in CORPUS:
        if c.deadletter_reason:
            continue
        outputs, _ = _run_handler(enricher, [c])
        (rec,) = outputs.for_topic("enriched")
        doc, sent = json.loads(rec.value), json.loads(c.payload)
        source_id = sent.get("message_id") or sent.get("response_id")
        assert doc["id"] == f"{c.source}:{source_id.strip()}", c.case
