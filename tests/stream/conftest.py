"""Fakes for the handler unit tests (never used outside tests/stream)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.records import (
    EnrichedFeedback,
    FollowUp,
    InboundSMS,
    SurveyReply,
)
from streams.handlers.common import RawEvent
from streams.metrics import Metrics

SMS_TOPIC = "t.voc.sms.inbound"
SURVEY_TOPIC = "t.voc.survey.replies"
SOURCES = {SMS_TOPIC: "sms", SURVEY_TOPIC: "survey"}


class BadInput(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse(raw: bytes, source: str) -> InboundSMS | SurveyReply:
    """Stand-in for processors.pipeline.parse_inbound: same contract (reason + detail)."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadInput("invalid_json", "not JSON") from exc
    model = InboundSMS if source == "sms" else SurveyReply
    try:
        return model.model_validate(data)
    except Exception as exc:
        raise BadInput("invalid_record", "schema") from exc


@dataclass
class Result:
    feedback: EnrichedFeedback
    followup: FollowUp | None


class FakeEnricher:
    """Marks a message a rant when its text contains "RANT"; raises on "BOOM"."""

    def __init__(self, fail_batches: bool = False) -> None:
        self.calls: list[tuple[int, list[int] | None]] = []
        self.fail_batches = fail_batches

    def enrich_batch(self, items: list[Any], recent_contacts: Any = None,
                     now: datetime | None = None) -> list[Result]:
        self.calls.append((len(items), list(recent_contacts) if recent_contacts else None))
        if self.fail_batches and len(items) > 1:
            raise RuntimeError("batch failure")
        out = []
        for item in items:
            text = item.body if isinstance(item, InboundSMS) else item.comment
            if "BOOM" in text:
                raise ValueError("cannot enrich")
            out.append(make_result(item, rant="RANT" in text))
        return out


def make_result(item: InboundSMS | SurveyReply, rant: bool) -> Result:
    if isinstance(item, InboundSMS):
        fid, channel, at, text = f"sms:{item.message_id}", "sms", item.received_at, item.body
    else:
        fid, channel, at, text = (f"survey:{item.response_id}", "survey", item.submitted_at,
                                  item.comment)
    fb = EnrichedFeedback(
        id=fid, channel=channel, brand=item.brand, customer_id=item.customer_id,
        received_at=at, enriched_at=datetime.now(UTC), text=text, language="en",
        sentiment={"label": "negative" if rant else "neutral", "score": -0.9 if rant else 0.0},
        emotion={"label": "anger" if rant else "neutral", "scores": {"anger": 0.5}},
        topics=[{"name": "billing", "confidence": 0.9, "evidence": "charged twice"}] if rant
        else [], urgency={"level": "critical" if rant else "low", "score": 0.9 if rant else 0.1,
                            "reasons": []},
        is_rant=rant, pii={"redacted": False, "kinds": []},
        model={"encoder": "fake", "version": "0"},
    )
    fu = None
    if rant:
        fu = FollowUp(
            id=f"followup:{fid}", feedback_id=fid, customer_id=item.customer_id, brand=item.brand,
            priority="P1", created_at=datetime.now(UTC),
            due_by=datetime.now(UTC) + timedelta(hours=4), reasons=[], summary="s",
            suggested_reply="I can hear how frustrating this is.", feedback=fb,
        )
    return Result(fb, fu)


def sms(mid: str, body: str = "hello", customer: str | None = "C1",
        at: str = "2026-11-25T18:00:00Z") -> bytes:
    rec: dict[str, Any] = {"message_id": mid, "from": "+447700900123", "to": "+447700900000",
                           "body": body, "received_at": at, "brand": "acme"}
    if customer:
        rec["customer_id"] = customer
    return json.dumps(rec).encode()


def survey(rid: str, comment: str = "fine", score: int = 9) -> bytes:
    return json.dumps({"response_id": rid, "survey_id": "S1", "customer_id": "C2",
                       "brand": "acme", "submitted_at": "2026-11-25T18:00:00Z", "kind": "nps",
                       "score": score, "comment": comment}).encode()


def event(value: bytes | None, topic: str = SMS_TOPIC, offset: int = 0,
          key: bytes | None = b"+447700900123") -> RawEvent:
    return RawEvent(topic=topic, partition=0, offset=offset, key=key, value=value)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


async def run_now(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Synchronous stand-in for the thread executor."""
    return fn(*args, **kwargs)
