"""Property: normalize -> redact -> enrich never raises, whatever the text.

Hypothesis generates arbitrary unicode (lone surrogates, control and format characters,
right-to-left marks, combining marks, emoji, very long runs included) and the real
Enricher, with its real encoder and heads, must turn every one into a valid
EnrichedFeedback that can be encoded as UTF-8 JSON. The cheap steps (normalize, redact)
get many more examples than the model does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.config import EnrichConfig
from processors.normalize import clean_text, normalize
from processors.pipeline import REASONS, Enricher, InvalidInput, parse_inbound
from processors.redact import redact
from schemas.records import PII_KINDS, EnrichedFeedback, InboundSMS, SurveyReply

# every code point, surrogates and unassigned ones included
ANY_CHAR = st.characters(codec=None, categories=None, exclude_categories=())
NASTY = st.sampled_from([
    "\u202e", "\u200f", "\u2066", "\u200b", "\u200d", "\ufeff", "\x00", "\x1b[31m", "\r\n",
    "\u0301", "\ud83d", "\udc00", "😡", "👨‍👩‍👧", "🇬🇧", "ﷺ", "\uffff", "\U0010ffff",
    "+44 7700 900123", "jane@example.com", "4111 1111 1111 1111", "STOP", "<script>",
    "text:* OR _exists_:x", "%s%n", "${jndi:x}",
])
TEXT = st.lists(st.one_of(st.text(ANY_CHAR, max_size=40), NASTY), max_size=12).map("".join)
LONG = st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "😡", " ", "\u0301", "9"]),
                 st.integers(1000, 20_000))


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher(EnrichConfig())


def _sms(text: str) -> InboundSMS:
    return InboundSMS.model_construct(
        message_id="SM-prop", sender="+447700900999", to=None, body=text,
        received_at=datetime(2026, 11, 25, tzinfo=UTC), brand="acme", customer_id="C1",
        schema_version=1)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_normalize_never_raises_and_output_is_encodable(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # lone surrogates removed
    assert cleaned == cleaned.strip()
    fb = normalize(_sms(text), max_text_chars=500)
    assert len(fb.text) <= 500


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_redact_never_raises(text: str) -> None:
    result = redact(clean_text(text))
    result.text.encode("utf-8")
    assert set(result.kinds) <= set(PII_KINDS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(TEXT, LONG), min_size=1, max_size=6))
def test_enrich_never_raises_on_arbitrary_text(enricher: Enricher, texts: list[str]) -> None:
    items = [_sms(t) for t in texts]
    results = enricher.enrich_batch(items, recent_contacts=[1] * len(items))
    assert len(results) == len(items)
    for r in results:
        fb = r.feedback
        wire = fb.model_dump_json().encode("utf-8")
        EnrichedFeedback.model_validate_json(wire)
        if r.followup is not None:
            r.followup.model_dump_json().encode("utf-8")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, st.sampled_from([("nps", 0), ("nps", 10), ("csat", 1), ("ces", 7)]))
def test_enrich_survey_never_raises(enricher: Enricher, comment: str,
                                   score: tuple[str, int]) -> None:
    item = SurveyReply.model_construct(
        response_id="R-prop", survey_id="S", customer_id="C1", brand="acme",
        submitted_at=datetime(2026, 11, 25, tzinfo=UTC), kind=score[0], score=score[1],
        comment=comment, schema_version=1)
    (r,) = enricher.enrich_batch([item], recent_contacts=[0])
    EnrichedFeedback.model_validate_json(r.feedback.model_dump_json().encode("utf-8"))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(ANY_CHAR),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
SMS_KEYS = ("message_id", "from", "to", "body", "received_at", "brand", "customer_id",
            "schema_version")
SURVEY_KEYS = ("response_id", "survey_id", "customer_id", "brand", "submitted_at", "kind",
               "score", "comment", "schema_version")


def _parse_or_invalid(raw: bytes, source: str | None) -> None:
    try:
        record = parse_inbound(raw, source)  # type: ignore[arg-type]
    except InvalidInput as exc:
        assert exc.reason in REASONS
    else:
        assert isinstance(record, InboundSMS | SurveyReply)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(["sms", "survey", None]))
def test_parse_inbound_only_raises_invalid_input_on_any_bytes(raw: bytes, source: str | None
                                                              ) -> None:
    _parse_or_invalid(raw, source)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["sms", "survey"]), st.data())
def test_parse_inbound_only_raises_invalid_input_on_any_record_shape(source: str, data: Any
                                                                     ) -> None:
    keys = SMS_KEYS if source == "sms" else SURVEY_KEYS
    obj = data.draw(st.dictionaries(st.sampled_from(keys), JSON_VALUES, max_size=len(keys)))
    raw = json.dumps(obj, ensure_ascii=data.draw(st.booleans())).encode("utf-8", "surrogatepass")
    _parse_or_invalid(raw, source)
