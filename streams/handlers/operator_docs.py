"""Documents for the operator-facing indices the console reads (dead letters, audit trail).

Both are built from records already on Kafka, by plain functions, so the console never
needs to read a topic to list them. A dead letter's document carries a PII-redacted,
markup-free preview, the keyed hash of the original (equal hashes: the same bad record
again), whether the original was kept (only then can it be re-driven) and where the dead
letter lives on its topic; the original bytes themselves never enter the search index.
Version-1 dead letters (always with the original) are still read: their preview is made
from the original here.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from processors.redact import redact
from schemas.records import AuditEvent
from streams.deadletter import PREVIEW_CHARS, PREVIEW_SCAN_CHARS, safe_preview
from streams.handlers.common import RawEvent, utf8_safe

__all__ = ["PREVIEW_CHARS", "audit_doc", "deadletter_doc", "safe_preview"]

def deadletter_doc(ev: RawEvent) -> dict[str, Any]:
    """The ``voc-deadletters`` document for one record of the dead-letter topic.

    Never raises: a record that is not a readable dead letter still gets a document
    (reason ``unreadable_deadletter``), because dead letters must never be dead-lettered.
    """
    doc_id = f"{ev.partition}:{ev.offset}"
    base: dict[str, Any] = {"id": doc_id, "dl_partition": ev.partition, "dl_offset": ev.offset}
    try:
        data = json.loads(ev.value or b"")
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        original = base64.b64decode(str(data.get("original_b64", "")), validate=True)
    except (ValueError, RecursionError, binascii.Error) as exc:
        return {**base, "source_topic": None, "partition": None, "offset": None, "key": None,
                "reason": "unreadable_deadletter", "error": type(exc).__name__, "preview": "",
                "size_bytes": len(ev.value or b""), "original_kept": False,
                "original_hmac": None, "failed_at": _failed_at(None, ev)}
    return utf8_safe({
        **base,
        "source_topic": _str_or_none(data.get("source_topic")),
        "partition": data.get("partition") if isinstance(data.get("partition"), int) else None,
        "offset": data.get("offset") if isinstance(data.get("offset"), int) else None,
        "key": _str_or_none(data.get("key")),
        "reason": _str_or_none(data.get("reason")) or "unknown",
        "error": redact(str(data.get("error", ""))[:500]).text,
        "preview": _preview(data, original),
        "size_bytes": _size(data, original),
        "original_kept": _kept(data, original),
        "original_hmac": _str_or_none(data.get("original_hmac")),
        "failed_at": _failed_at(data.get("failed_at"), ev),
    })


def audit_doc(ev: RawEvent) -> dict[str, Any]:
    """The ``voc-audit`` document for one audit event; raises ValueError when invalid."""
    event = AuditEvent.model_validate_json(ev.value or b"")
    return dict(utf8_safe(event.model_dump(mode="json")))


def _kept(data: dict[str, Any], original: bytes) -> bool:
    """Whether the record carries its original: a v2 record says so, a v1 record always
    did (unless it was empty)."""
    flag = data.get("original_kept")
    return bool(original) and (flag is True or flag is None)


def _size(data: dict[str, Any], original: bytes) -> int:
    size = data.get("original_size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else (
        len(original))


def _preview(data: dict[str, Any], original: bytes) -> str:
    """The record's own preview (v2), redacted again (redaction may have improved since it
    was written); a v1 record's preview is made from its original."""
    given = data.get("preview")
    if not isinstance(given, str):
        return safe_preview(original)
    text = redact(given[:PREVIEW_SCAN_CHARS]).text
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _str_or_none(value: object) -> str | None:
    return str(value)[:300] if value is not None else None


def _failed_at(value: object, ev: RawEvent) -> str | None:
    if isinstance(value, str) and value:
        return value
    if ev.timestamp is not None:
        return datetime.fromtimestamp(ev.timestamp, UTC).isoformat()
    return None
