"""Enricher batch API and parse_inbound (fake analyzer: a test double, see fake_analyzer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from processors.config import MINILM_ID, EnrichConfig, ModelConfig
from processors.pipeline import Enricher, InvalidInput, parse_inbound
from schemas.records import EnrichedFeedback, InboundSMS, SurveyReply
from tests.unit.fake_analyzer import FakeAnalyzer

NOW = datetime(2026, 11, 25, 18, 5, tzinfo=UTC)


def sms(body: str, mid: str = "SM1", **over: object) -> InboundSMS:
    rec = {"message_id": mid, "from": "+447700900999", "body": body,
           "received_at": "2026-11-25T18:00:00Z", "brand": "acme-mobile", "customer_id": "C1"}
    rec.update(over)
    return InboundSMS.model_validate(rec)


def survey(score: int, comment: str = "", kind: str = "nps", rid: str = "R1") -> SurveyReply:
    return SurveyReply.model_validate(
        {"response_id": rid, "survey_id": "S1", "customer_id": "C2", "brand": "acme-mobile",
         "submitted_at": "2026-11-25T17:00:00Z", "kind": kind, "score": score,
         "comment": comment})


@pytest.fixture()
def analyzer() -> FakeAnalyzer:
    return FakeAnalyzer()


@pytest.fixture()
def enricher(analyzer: FakeAnalyzer) -> Enricher:
    return Enricher(EnrichConfig(), analyzer)


def test_one_analyze_call_per_batch_in_order(enricher: Enricher, analyzer: FakeAnalyzer) -> None:
    items = [sms("my bill is wrong", "A"), survey(3, rid="B"), sms("love the new app", "C"),
             survey(9, "great service thanks", rid="D")]
    out = enricher.enrich_batch(items, now=NOW)
    assert [r.feedback.id for r in out] == ["sms:A", "survey:B", "sms:C", "survey:D"]
    # the empty survey comment is not sent to the encoder
    assert analyzer.analyze_calls == [3]


def test_rant_gets_followup_with_reply_and_due_by(enricher: Enricher) -> None:
    body = ("You charged me twice for one order!!! I'm cancelling and going to the ombudsman. "
            "Call me on 07700 900123")
    (res,) = enricher.enrich_batch([sms(body)], recent_contacts=[3], now=NOW)
    fb = res.feedback
    assert fb.is_rant and fb.urgency.level in ("high", "critical")
    assert "3rd contact in 7 days" in fb.urgency.reasons
    assert "07700" not in fb.text and "[PHONE]" in fb.text
    assert fb.pii.redacted and fb.pii.kinds == ["phone"]
    assert {t.name for t in fb.topics} >= {"billing", "cancellation"}
    fu = res.followup
    assert fu is not None and fu.id == "followup:sms:SM1" and fu.feedback == fb
    assert fu.priority in ("P1", "P2")
    hours = EnrichConfig().urgency.followup_hours[fu.priority]
    # from the message's own time (18:00), not the enrichment clock (18:05)
    assert fu.due_by == datetime(2026, 11, 25, 18, 0, tzinfo=UTC) + timedelta(hours=hours)
    assert "charged you twice" in fu.suggested_reply
    assert "[PHONE]" not in fu.suggested_reply and "07700" not in fu.suggested_reply


def test_a_later_enrichment_of_the_same_rant_keeps_its_deadline(enricher: Enricher) -> None:
    body = "You charged me twice!!! I'm cancelling and going to the ombudsman, disgraceful"
    (first,) = enricher.enrich_batch([sms(body)], recent_contacts=[1], now=NOW)
    (again,) = enricher.enrich_batch([sms(body)], recent_contacts=[1],
                                     now=NOW + timedelta(days=3))
    assert first.followup is not None and again.followup is not None
    assert again.followup.due_by == first.followup.due_by
    assert again.followup.created_at != first.followup.created_at  # the clock did move


def test_calm_message_is_not_a_rant(enricher: Enricher) -> None:
    (res,) = enricher.enrich_batch([sms("thanks, the engineer was great")], now=NOW)
    assert not res.feedback.is_rant and res.followup is None
    assert res.feedback.urgency.level == "low"
    assert res.feedback.sentiment.label == "positive"


def test_opt_out_is_flagged_not_a_complaint(enricher: Enricher, analyzer: FakeAnalyzer) -> None:
    (res,) = enricher.enrich_batch([sms("STOP")], recent_contacts=[5], now=NOW)
    fb = res.feedback
    assert fb.opt_out and not fb.is_rant and res.followup is None
    assert fb.urgency.level == "low" and fb.topics == []
    assert analyzer.analyze_calls == []


def test_score_only_survey_uses_the_score(enricher: Enricher) -> None:
    detractor, promoter = enricher.enrich_batch([survey(1, rid="X"), survey(10, rid="Y")], now=NOW)
    assert detractor.feedback.sentiment.label == "negative"
    assert "NPS detractor (1)" in detractor.feedback.urgency.reasons
    assert detractor.feedback.text == "" and detractor.feedback.topics == []
    assert promoter.feedback.sentiment.label == "positive"
    assert promoter.feedback.urgency.level == "low"


def test_a_language_outside_the_encoders_is_tagged_and_explained(
        analyzer: FakeAnalyzer) -> None:
    """German is one of the shipped multilingual encoder's languages; the English-only
    all-MiniLM-L6-v2 flags it (processors/model_files.py owns which reads what)."""
    text = "Ich bin sehr unzufrieden mit dem Kundendienst, das ist eine Frechheit"
    (res,) = Enricher(EnrichConfig(), analyzer).enrich_batch([sms(text)], now=NOW)
    assert res.feedback.language == "de" and res.feedback.language_supported
    assert not any(r.startswith("language") for r in res.feedback.urgency.reasons)
    english_only = EnrichConfig(model=ModelConfig(encoder=MINILM_ID))
    (res,) = Enricher(english_only, analyzer).enrich_batch([sms(text)], now=NOW)
    fb = res.feedback
    assert fb.language == "de" and not fb.language_supported
    assert "language de: models out of their depth" in fb.urgency.reasons


def test_long_text_is_truncated_and_flagged(analyzer: FakeAnalyzer) -> None:
    enricher = Enricher(EnrichConfig(max_text_chars=100), analyzer)
    (res,) = enricher.enrich_batch([sms("refund please " * 50)], now=NOW)
    assert res.feedback.truncated and len(res.feedback.text) <= 100


def test_recent_contacts_length_must_match(enricher: Enricher) -> None:
    with pytest.raises(ValueError):
        enricher.enrich_batch([sms("hi")], recent_contacts=[1, 2])


def test_output_round_trips_as_json(enricher: Enricher) -> None:
    (res,) = enricher.enrich_batch([sms("my parcel never arrived 😡")], now=NOW)
    again = EnrichedFeedback.model_validate_json(res.feedback.model_dump_json())
    assert again == res.feedback
    assert "😡" in again.text


# ------------------------------------------------------------------ parse_inbound


def raw(obj: object) -> bytes:
    return json.dumps(obj).encode()


GOOD_SMS = {"message_id": "SM9", "from": "+447700900999", "body": "hello",
            "received_at": "2026-11-25T18:00:00Z", "brand": "b"}
GOOD_SURVEY = {"response_id": "R9", "survey_id": "S", "customer_id": "C", "brand": "b",
               "submitted_at": "2026-11-25T18:00:00Z", "kind": "csat", "score": 2}


def test_parse_detects_kind() -> None:
    assert isinstance(parse_inbound(raw(GOOD_SMS)), InboundSMS)
    assert isinstance(parse_inbound(raw(GOOD_SURVEY)), SurveyReply)
    assert isinstance(parse_inbound(raw(GOOD_SURVEY), "survey"), SurveyReply)


@pytest.mark.parametrize(
    ("payload", "source", "reason"),
    [
        (b"", None, "empty_message"),
        (b"{not json", None, "invalid_json"),
        (b'{"body": "caf\xe9"}', None, "invalid_json"),
        (b'{"score": NaN}', "survey", "invalid_json"),
        (b"[1, 2]", None, "invalid_record"),
        (raw({"x": 1}), None, "invalid_record"),
        (raw({**GOOD_SMS, "schema_version": 2}), None, "unsupported_schema_version"),
        (raw({**GOOD_SMS, "body": "  \u200b "}), None, "empty_text"),
        (raw({**GOOD_SURVEY, "score": 9}), None, "invalid_record"),
        (raw(GOOD_SURVEY), "sms", "invalid_record"),
        (b"x" * 2_000_001, None, "too_large"),
    ],
)
def test_parse_rejects_with_reason(payload: bytes, source: str | None, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_inbound(payload, source)  # type: ignore[arg-type]
    assert err.value.reason == reason
    assert str(err.value).startswith(reason)


def test_parse_error_never_echoes_the_text() -> None:
    secret = "my card is 4111 1111 1111 1111 call 07700900123"
    payloads = [
        raw({**GOOD_SMS, "body": 42, "from": secret}),
        raw({**GOOD_SMS, "received_at": secret}),
        raw({**GOOD_SURVEY, "kind": secret}),
        raw({**GOOD_SURVEY, "score": secret}),
    ]
    for p in payloads:
        with pytest.raises(InvalidInput) as err:
            parse_inbound(p)
        assert "4111" not in str(err.value) and "07700" not in str(err.value)


# ------------------------------------------------------------------ properties

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FAKE_ENRICHER = Enricher(EnrichConfig(max_text_chars=500), FakeAnalyzer())


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=600), min_size=1, max_size=5),
       st.lists(st.integers(0, 20), min_size=5, max_size=5))
def test_enrich_never_raises_on_arbitrary_text(texts: list[str], contacts: list[int]) -> None:
    items = [sms(t, f"P{i}") for i, t in enumerate(texts)]
    out = _FAKE_ENRICHER.enrich_batch(items, contacts[: len(items)], now=NOW)
    assert len(out) == len(items)
    for res in out:
        res.feedback.model_dump_json().encode("utf-8")
        assert len(res.feedback.text) <= 500
        assert (res.followup is not None) == res.feedback.is_rant


def test_non_english_rant_gets_generic_opener(enricher: Enricher) -> None:
    (res,) = enricher.enrich_batch(
        [sms("Ich bin wütend, ihr habt mir zweimal berechnet, ich gehe zum Anwalt und "
             "kündige. Worst, useless, cancel!!!")], recent_contacts=[4], now=NOW)
    assert res.followup is not None
    assert res.followup.suggested_reply.startswith("I can hear how frustrated you are")
    assert res.feedback.language == "de"
