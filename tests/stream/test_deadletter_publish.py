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
