"""Dead-letter records carry no PII outside the original bytes; publishing retries."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.records import DeadLetter, InboundSMS
from streams.deadletter import (
    DeadLetterPolicy,
    build_deadletter,
    deadletter_bytes,
    describe_error,
    original_hmac,
    safe_key,
)
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


KEY = b"0123456789abcdef0123456789abcdef"


def test_deadletter_keeps_original_bytes_only_when_the_operator_says_so() -> None:
    raw = b"\xff\xfe not utf-8"
    kept = build_deadletter(source_topic="t", partition=1, offset=2, key=None,
                            reason="invalid_utf8", error="x" * 2000, original=raw,
                            policy=DeadLetterPolicy(hash_key=KEY, keep_original=True))
    assert base64.b64decode(kept.original_b64) == raw and kept.original_kept
    assert len(kept.error) <= 500
    default = build_deadletter(source_topic="t", partition=1, offset=2, key=None,
                               reason="invalid_utf8", error="x", original=raw,
                               policy=DeadLetterPolicy(hash_key=KEY))
    assert default.original_b64 == "" and default.original_kept is False
    assert default.original_size == len(raw) and default.schema_version == 2
    # the same key and original give the same hash, so a duplicate is recognisable
    assert default.original_hmac == kept.original_hmac == original_hmac(raw, KEY)
    assert original_hmac(raw, b"another key, 32 bytes long......") != default.original_hmac
    assert original_hmac(raw + b" ", KEY) != default.original_hmac


def test_a_default_dead_letter_previews_the_customer_words_redacted() -> None:
    sms = json.dumps({"message_id": "m1", "from": "+447700900123", "received_at": "bad",
                      "body": "<i>ring</i> me on 07700 900123, jo@example.com"}).encode()
    dl = build_deadletter(source_topic="t", partition=0, offset=0, key=b"+447700900123",
                          reason="invalid_record", error="e", original=sms,
                          policy=DeadLetterPolicy(hash_key=KEY))
    wire = deadletter_bytes(dl).decode()
    assert dl.preview is not None and dl.preview.startswith("ring me on")
    for secret in ("07700", "900123", "jo@example.com", "<i>"):
        assert secret not in wire


def test_a_version_1_dead_letter_still_parses() -> None:
    v1 = {"schema_version": 1, "source_topic": "t", "partition": 0, "offset": 1, "key": None,
          "reason": "invalid_json", "error": "e", "original_b64": "eyJ4Ijox",
          "failed_at": "2026-11-25T18:00:00Z"}
    dl = DeadLetter.model_validate(v1)
    assert dl.original_kept and dl.original_b64 == "eyJ4Ijox" and dl.original_hmac is None


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
                          error="too big", original=raw,
                          policy=DeadLetterPolicy(hash_key=KEY, keep_original=True))
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
    dead = DeadLetters(metrics, DeadLetterPolicy(hash_key=KEY, keep_original=True))
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

    keep = DeadLetterPolicy(hash_key=KEY, keep_original=True)
    dead = DeadLetters(Metrics(CollectorRegistry()), keep)
    parked = deadletter_record(Ev("t.in", 0, 7, None, b"x" * 100), "invalid_json", "bad", keep)
    sent: list[OutRecord] = []

    async def refuse_all(rec: OutRecord) -> Any:
        sent.append(rec)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_exception(MessageSizeTooLargeError("too large"))
        return fut

    await publish_all([parked], refuse_all, refused=lambda r, e: dead.unpublishable(r, e, "t.dl"))
    assert len(sent) == 2  # the original dead letter, then its slim copy; then given up
    slim = json.loads(sent[1].value)
    assert slim["original_b64"] == "" and slim["offset"] == 7 and not slim["original_kept"]
    assert slim["original_hmac"] == json.loads(parked.value)["original_hmac"]
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


def test_dead_letters_of_already_minimised_outputs_keep_the_record() -> None:
    policy = DeadLetterPolicy(hash_key=KEY, minimised_sources=frozenset({"voc.feedback.enriched"}))
    enriched = b'{"id": "sms:1", "text": "[PHONE] my bill"}'
    dl = build_deadletter(source_topic="voc.feedback.enriched", partition=0, offset=1, key=None,
                          reason="index_rejected", error="mapping", original=enriched,
                          policy=policy)
    assert dl.original_kept and base64.b64decode(dl.original_b64) == enriched
    raw = build_deadletter(source_topic="voc.sms.inbound", partition=0, offset=1, key=None,
                           reason="invalid_json", error="e", original=b"{x", policy=policy)
    assert not raw.original_kept and raw.original_b64 == ""


def test_a_phone_number_cut_by_the_preview_scan_is_not_shown_in_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streams.deadletter as dl

    # e-mails shrink to [EMAIL], so what sat at the end of the scanned prefix (the first
    # digits of a phone number cut in two) would land inside the 280 shown characters
    mails = "averyveryverylongaddress123@example.com " * 40
    head = mails[: dl.PREVIEW_SCAN_CHARS - 6]
    body = head + "07700 900123 and more " + "b" * 5000
    original = json.dumps({"body": body}).encode()
    assert "077" not in dl.safe_preview(original) and "[EMAIL]" in dl.safe_preview(original)
    monkeypatch.setattr(dl, "_CUT_MARGIN", 0)  # the margin is what keeps it out
    assert "077" in dl.safe_preview(original)
