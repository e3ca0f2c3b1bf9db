"""Dead-letter and audit documents for the console's indices: redacted, bounded, never raising."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.deadletter import build_deadletter, deadletter_bytes
from streams.handlers.operator_docs import PREVIEW_CHARS, audit_doc, deadletter_doc, safe_preview
from tests.stream.conftest import event

SMS = {"message_id": "m1", "from": "+447700900123", "brand": "acme",
       "body": "<b>Call me</b> on 07700 900123 or mail jo@example.com, card 4111 1111 1111 1111",
       "received_at": "not a date"}


def dead(original: bytes, reason: str = "invalid_record") -> bytes:
    dl = build_deadletter(source_topic="voc.sms.inbound", partition=2, offset=41, key=b"k1",
                          reason=reason, error="received_at: invalid", original=original)
    return deadletter_bytes(dl)


def test_deadletter_document_has_a_redacted_markup_free_preview() -> None:
    doc = deadletter_doc(event(dead(json.dumps(SMS).encode()), topic="voc.deadletter", offset=7))
    assert doc["id"] == "0:7" and (doc["dl_partition"], doc["dl_offset"]) == (0, 7)
    assert (doc["source_topic"], doc["partition"], doc["offset"]) == ("voc.sms.inbound", 2, 41)
    assert doc["reason"] == "invalid_record" and doc["key"] == "k1"
    assert "07700" not in doc["preview"] and "jo@example.com" not in doc["preview"]
    assert "4111" not in doc["preview"] and "<b>" not in doc["preview"]
    assert doc["preview"].startswith("Call me on")
    assert "original_b64" not in doc and "+447700900123" not in json.dumps(doc)


def test_non_json_originals_and_unreadable_dead_letters_still_get_a_document() -> None:
    doc = deadletter_doc(event(dead(b"\xff\xfe raw 07700 900123"), topic="voc.deadletter"))
    assert doc["reason"] == "invalid_record" and "900123" not in doc["preview"]
    bad = deadletter_doc(event(b"{not json", topic="voc.deadletter", offset=3))
    assert bad["reason"] == "unreadable_deadletter" and bad["id"] == "0:3"
    assert bad["preview"] == ""


def test_preview_reads_only_a_prefix_of_a_huge_original() -> None:
    huge = json.dumps({**SMS, "body": "Call me " + "x " * 1_000_000 + "jo@example.com"}).encode()
    preview = safe_preview(huge)
    assert preview.startswith("Call me x") and len(preview) <= PREVIEW_CHARS
    # a non-JSON original is cut to the prefix before any work is done on it
    assert len(safe_preview(b"y" * 3_000_000)) == PREVIEW_CHARS


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2_000))
def test_deadletter_doc_never_raises(value: bytes) -> None:
    doc = deadletter_doc(event(value, topic="voc.deadletter"))
    assert isinstance(doc["reason"], str) and len(doc["preview"]) <= PREVIEW_CHARS


def test_audit_documents_are_validated() -> None:
    ok = {"id": "e1", "at": "2026-12-07T10:00:00Z", "actor": "ana", "role": "agent",
          "action": "resolved", "target": "followup:sms:1", "detail": "refunded"}
    doc = audit_doc(event(json.dumps(ok).encode(), topic="voc.audit"))
    assert doc["action"] == "resolved" and doc["result"] == "ok"
    with pytest.raises(ValueError):
        audit_doc(event(json.dumps({**ok, "action": "rm -rf"}).encode(), topic="voc.audit"))
    with pytest.raises(ValueError):
        audit_doc(event(b"[]", topic="voc.audit"))


@pytest.mark.parametrize("original", [
    b'{"body": "Hi \\ud83d there 07700 900123"}',  # a lone surrogate: fine in JSON, not UTF-8
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser goes
])
def test_hostile_originals_give_a_document_the_search_client_can_send(original: bytes) -> None:
    doc = deadletter_doc(event(dead(original), topic="voc.deadletter"))
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # what the clients do: must not raise
    assert doc["reason"] == "invalid_record" and "900123" not in doc["preview"]


def test_a_v2_dead_letter_document_carries_hash_and_kept_flag_without_the_original() -> None:
    from streams.deadletter import DeadLetterPolicy, original_hmac

    key = b"k" * 32
    raw = json.dumps(SMS).encode()
    dl = build_deadletter(source_topic="voc.sms.inbound", partition=2, offset=41, key=b"k1",
                          reason="invalid_record", error="e", original=raw,
                          policy=DeadLetterPolicy(hash_key=key))
    doc = deadletter_doc(event(deadletter_bytes(dl), topic="voc.deadletter", offset=8))
    assert doc["original_kept"] is False and doc["original_hmac"] == original_hmac(raw, key)
    assert doc["size_bytes"] == len(raw) and doc["preview"].startswith("Call me on")
    assert "07700" not in json.dumps(doc)
    kept = build_deadletter(source_topic="voc.sms.inbound", partition=2, offset=41, key=b"k1",
                            reason="invalid_record", error="e", original=raw,
                            policy=DeadLetterPolicy(hash_key=key, keep_original=True))
    doc = deadletter_doc(event(deadletter_bytes(kept), topic="voc.deadletter", offset=9))
    assert doc["original_kept"] is True and "original_b64" not in doc


def test_a_v1_dead_letter_document_still_gets_its_preview_from_the_original() -> None:
    import base64

    v1 = {"schema_version": 1, "source_topic": "voc.sms.inbound", "partition": 0, "offset": 3,
          "key": None, "reason": "invalid_json", "error": "e",
          "original_b64": base64.b64encode(json.dumps(SMS).encode()).decode(),
          "failed_at": "2026-11-25T18:00:00Z"}
    doc = deadletter_doc(event(json.dumps(v1).encode(), topic="voc.deadletter", offset=4))
    assert doc["original_kept"] is True and doc["original_hmac"] is None
    assert doc["preview"].startswith("Call me on") and "07700" not in doc["preview"]
