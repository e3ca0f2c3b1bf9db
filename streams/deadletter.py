"""Dead-letter records: bad input is parked with its reason, never silently dropped.

The original bytes travel base64-encoded so an operator can fix and replay them;
everything else in the record (the error text, the key) is kept free of personal
data, because dead letters end up in dashboards and tickets.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.errors import describe_validation_error
from schemas.records import DeadLetter

MAX_ERROR_CHARS = 500
# The dead-letter topic accepts 4 MiB records (``streams.topics``) and the worker's producer
# 5 MB requests; base64 grows 4/3, so originals are capped at 2.5 MB. Inbound records are
# already limited to ~1 MB by the broker, so in practice nothing is cut; if it is, the
# error says so rather than the producer failing forever on an oversized record.
MAX_ORIGINAL_BYTES = 2_500_000

# A Kafka key on the SMS topic is often the sender's phone number; an e-mail or
# phone-shaped key is masked so the dead-letter record itself carries no PII.
_PII_KEY = re.compile(r"@|^\+?[\d\s().-]{6,}$")


def safe_key(key: bytes | str | None) -> str | None:
    """The record key as text, masked when it looks like a phone number or e-mail."""
    if key is None:
        return None
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    if _PII_KEY.search(text.strip()):
        return "[REDACTED]"
    return text[:200]


def describe_error(exc: BaseException) -> str:
    """A short error text that never echoes the input values (they may hold PII)."""
    if isinstance(exc, ValidationError):
        text = describe_validation_error(exc)
    else:
        detail = getattr(exc, "detail", None)
        text = str(detail) if detail is not None else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def build_deadletter(
    *,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | str | None,
    reason: str,
    error: str,
    original: bytes | None,
    now: datetime | None = None,
) -> DeadLetter:
    """One DeadLetter record for a message that could not be processed."""
    original = original or b""
    if len(original) > MAX_ORIGINAL_BYTES:
        cut = f"[original truncated to {MAX_ORIGINAL_BYTES} of {len(original)} bytes]"
        error = f"{error[:300]} {cut}"
        original = original[:MAX_ORIGINAL_BYTES]
    return DeadLetter(
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        key=safe_key(key),
        reason=reason,
        error=error[:MAX_ERROR_CHARS],
        original_b64=base64.b64encode(original).decode("ascii"),
        failed_at=now or datetime.now(UTC),
    )


def deadletter_bytes(record: DeadLetter) -> bytes:
    """Wire form of a dead letter (JSON, UTF-8)."""
    return record.model_dump_json().encode("utf-8")
