"""Documents for the operator-facing indices the console reads (dead letters, audit trail).

Both are built from records already on Kafka, by plain functions, so the console never
needs to read a topic to list them. A dead letter's document carries a PII-redacted,
markup-free preview of the original and where the original lives on the dead-letter topic;
the original bytes themselves stay on Kafka, out of the search index.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from processors.redact import redact
from schemas.records import AuditEvent
from streams.handlers.common import RawEvent, utf8_safe

PREVIEW_CHARS = 280
# redaction reads a bounded prefix: a 2 MB original costs the same as a short one
PREVIEW_SCAN_CHARS = 4_000
_MARKUP = re.compile(r"<[^<>]{0,500}>")
_SPACE = re.compile(r"\s+")
# the inbound fields that hold what the customer wrote (SMS body, survey comment)
_TEXT_FIELDS = ("body", "comment", "text")


def safe_preview(original: bytes) -> str:
    """What an operator may see of a dead letter: the customer's words, redacted, no markup."""
    text = original[: PREVIEW_SCAN_CHARS * 4].decode("utf-8", "replace")
    try:
        data = json.loads(original)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        data = None
    if isinstance(data, dict):
        parts = [data[f] for f in _TEXT_FIELDS if isinstance(data.get(f), str)]
        text = " ".join(parts)
    text = _SPACE.sub(" ", _MARKUP.sub(" ", text[:PREVIEW_SCAN_CHARS])).strip()
    text = utf8_safe(redact(text).text)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


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
                "size_bytes": len(ev.value or b""), "failed_at": _failed_at(None, ev)}
    return utf8_safe({
        **base,
        "source_topic": _str_or_none(data.get("source_topic")),
        "partition": data.get("partition") if isinstance(data.get("partition"), int) else None,
        "offset": data.get("offset") if isinstance(data.get("offset"), int) else None,
        "key": _str_or_none(data.get("key")),
        "reason": _str_or_none(data.get("reason")) or "unknown",
        "error": redact(str(data.get("error", ""))[:500]).text,
        "preview": safe_preview(original),
        "size_bytes": len(original),
        "failed_at": _failed_at(data.get("failed_at"), ev),
    })


def audit_doc(ev: RawEvent) -> dict[str, Any]:
    """The ``voc-audit`` document for one audit event; raises ValueError when invalid."""
    event = AuditEvent.model_validate_json(ev.value or b"")
    return dict(utf8_safe(event.model_dump(mode="json")))


def _str_or_none(value: object) -> str | None:
    return str(value)[:300] if value is not None else None


def _failed_at(value: object, ev: RawEvent) -> str | None:
    if isinstance(value, str) and value:
        return value
    if ev.timestamp is not None:
        return datetime.fromtimestamp(ev.timestamp, UTC).isoformat()
    return None
