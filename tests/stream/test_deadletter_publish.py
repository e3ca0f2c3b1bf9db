"""Dead-letter records carry no PII outside the original bytes; publishing retries."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.records import InboundSMS
from streams.deadletter import build_deadletter, describe_error, safe_key
from streams.handlers.common import OutRecord, publish_all


def test_validation_errors_never_echo_the_input() -> None:
    with pytest.raises(ValidationError) as info:
        InboundSMS.model_validate({"message_id": "SM1", "from": "+447700900123",
                                   "body": "call me on 07700 900123", "brand": "b",
                                   "received_at": "not a date jane@example.com"})
    text = describe_error(info.value)
    assert "received_at" in text
    assert "jane@example.com" not in text and "07700" not in text


@pytest.mark.parametrize(("key", "expected"), [
    (b"+447700900123", "[REDACTED]"), (b"jane@example.com", "[REDACTED]"),
    (b"R-123", "R-123"), (None, None),
])
def test_safe_key(key: bytes | None, expected: str | None) -> None:
    assert safe_key(key) == expected


def test_deadletter_keeps_original_bytes() -> None:
    raw = b"\xff\xfe not utf-8"
    dl = build_deadletter(source_topic="t", partition=1, offset=2, key=None, reason="invalid_utf8",
                          error="x" * 2000, original=raw)
    assert base64.b64decode(dl.original_b64) == raw
    assert len(dl.error) <= 500


async def test_publish_all_retries_only_failed_records() -> None:
    attempts: dict[bytes, int] = {}

    async def send(rec: OutRecord) -> Any:
        attempts[rec.value] = attempts.get(rec.value, 0) + 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if rec.value == b"flaky" and attempts[rec.value] < 3:
            fut.set_exception(ConnectionError("broker gone"))
        else:
            fut.set_result(None)
        return fut

    async def no_sleep(_: float) -> None:
        return None

    retries: list[int] = []
    records = [OutRecord("enriched", None, b"ok"), OutRecord("enriched", None, b"flaky")]
    await publish_all(records, send, sleep=no_sleep, on_retry=lambda a, e: retries.append(a))
    assert attempts == {b"ok": 1, b"flaky": 3}
    assert retries == [0, 1]


def test_lag_by_topic_sums_partitions() -> None:
    from faust.types import TP

    from streams.agents import lag_by_topic

    ends = {TP("a", 0): 10, TP("a", 1): 5, TP("b", 0): 7}
    committed = {TP("a", 0): 4, TP("a", 1): None, TP("b", 0): 9}
    assert lag_by_topic(ends, committed) == {"a": 11, "b": 0}


def test_oversized_original_is_truncated_and_said_so() -> None:
    from streams.deadletter import MAX_ORIGINAL_BYTES

    raw = b"x" * (MAX_ORIGINAL_BYTES + 10)
    dl = build_deadletter(source_topic="t", partition=0, offset=0, key=None, reason="too_large",
                          error="too big", original=raw)
    assert len(base64.b64decode(dl.original_b64)) == MAX_ORIGINAL_BYTES
    assert "truncated" in dl.error


async def test_publish_all_dead_letters_a_record_refused_for_good() -> None:
    """Too large for its topic is permanent: the record's dead letter goes out instead, once,
    and the batch completes; a timeout on another record is still retried."""
    from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
    from prometheus_client import CollectorRegistry

    from streams.failures import FailureClass
    from streams.handlers.common import DeadLetters
    from streams.metrics import Metrics

    metrics = Metrics(CollectorRegistry())
    dead = DeadLetters(metrics)
    sent: list[OutRecord] = []
    tries: dict[bytes, int] = {}

    async def send(rec: OutRecord) -> Any:
        sent.append(rec)
        tries[rec.value] = tries.get(rec.value, 0) + 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if rec.value == b"huge":
            fut.set_exception(MessageSizeTooLargeError("over max.message.bytes"))
        elif rec.value == b"slow" and tries[rec.value] < 2:
            fut.set_exception(KafkaTimeoutError())
        else:
            fut.set_result(None)
        return fut

    async def no_sleep(_: float) -> None:
        return None

    errors: list[tuple[str, FailureClass]] = []
    from streams.handlers.common import RawEvent as Ev

    inbound = Ev("p.voc.sms.inbound", 2, 41, b"+447700900123", b'{"message_id": "SM1"}')
    records = [OutRecord("enriched", b"k", b"huge", origin=inbound),
               OutRecord("enriched", None, b"slow")]
    await publish_all(records, send, sleep=no_sleep,
                      refused=lambda r, e: dead.unpublishable(r, e, "p.voc.feedback.enriched"),
                      on_error=lambda r, c: errors.append((r.value.decode(), c)))
    assert tries[b"huge"] == 1 and tries[b"slow"] == 2
    assert errors == [("huge", FailureClass.PERMANENT), ("slow", FailureClass.RETRIABLE)]
    (dl_rec,) = [r for r in sent if r.topic == "deadletter"]
    dl = json.loads(dl_rec.value)
    assert dl["reason"] == "publish_rejected" == dl_rec.reason
    # the input the refused output came from: the usual dedupe key, replayable bytes
    assert (dl["source_topic"], dl["partition"], dl["offset"]) == ("p.voc.sms.inbound", 2, 41)
    assert "p.voc.feedback.enriched" in dl["error"] and "MessageSizeTooLargeError" in dl["error"]
    assert base64.b64decode(dl["original_b64"]) == inbound.value
    assert dl["key"] == "[REDACTED]"
    assert metrics.value("voc_deadletter_total", {"reason": "publish_rejected"}) == 1


async def test_a_refused_dead_letter_is_sent_once_without_its_original_then_dropped() -> None:
    from aiokafka.errors import MessageSizeTooLargeError
    from prometheus_client import CollectorRegistry

    from streams.handlers.common import DeadLetters, deadletter_record
    from streams.handlers.common import RawEvent as Ev
    from streams.metrics import Metrics

    dead = DeadLetters(Metrics(CollectorRegistry()))
    parked = deadletter_record(Ev("t.in", 0, 7, None, b"x" * 100), "invalid_json", "bad")
    sent: list[OutRecord] = []

    async def refuse_all(rec: OutRecord) -> Any:
        sent.append(rec)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_exception(MessageSizeTooLargeError("too large"))
        return fut

    await publish_all([parked], refuse_all, refused=lambda r, e: dead.unpublishable(r, e, "t.dl"))
    assert len(sent) == 2  # the original dead letter, then its slim copy; then given up
    slim = json.loads(sent[1].value)
    assert slim["original_b64"] == "" and slim["offset"] == 7
    assert "original dropped" in slim["error"] and slim["reason"] == "invalid_json"


@pytest.mark.parametrize(("exc", "expected"), [
    ("MessageSizeTooLargeError", "permanent"), ("InvalidTopicError", "permanent"),
    ("RecordTooLargeError", "permanent"), ("KafkaTimeoutError", "retriable"),
    ("NotLeaderForPartitionError", "retriable"), ("KafkaConnectionError", "retriable"),
    ("RequestTimedOutError", "retriable"), ("TopicAuthorizationFailedError", "blocked"),
])
def test_produce_failure_classes(exc: str, expected: str) -> None:
    from aiokafka import errors

    from streams.failures import produce_failure

    assert produce_failure(getattr(errors, exc)()) == expected
    assert produce_failure(ConnectionError("reset")) == "retriable"
    assert produce_failure(TypeError("value must be bytes")) == "permanent"
