"""Dead-letter records: bad input is parked with its reason, never silently dropped.

A bad record is personal data we failed to process, so by default the dead letter keeps
only what an operator needs to see why: a PII-redacted preview of the customer's words, the
size, and a keyed hash (HMAC-SHA256 under the pseudonym key) of the original, so the same
bad record arriving twice is recognisable without keeping it. Only when the operator turns
on ``Settings.deadletter_keep_original`` does the original travel too (base64), and only
then can the console re-drive it; records of our own already-minimised outputs (enriched
feedback, follow-ups) always keep theirs (``DeadLetterPolicy.minimised_sources``).
Everything else in the record (the error text, the key) is kept free of personal data,
because dead letters end up in dashboards and tickets.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from processors.pseudonym import keyed_digest
from processors.redact import redact
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


PREVIEW_CHARS = 280
# redaction reads a bounded prefix: a 2 MB original costs the same as a short one. The
# preview is built on the enrich path (every parked record), so the prefix is kept short:
# 1,000 characters cost ~20 ms of redaction even for a run of digits, 4,000 cost ~640 ms.
PREVIEW_SCAN_CHARS = 1_000
# When the prefix cut the text, its last characters may be half of a phone number or
# e-mail that redaction no longer recognises: that many characters are dropped.
_CUT_MARGIN = 128
_MARKUP = re.compile(r"<[^<>]{0,500}>")
_SPACE = re.compile(r"\s+")
# the inbound fields that hold what the customer wrote (SMS body, survey comment)
_TEXT_FIELDS = ("body", "comment", "text")
#: the ``keyed_digest`` purpose of a dead letter's original (never equal to a pseudonym)
ORIGINAL_PURPOSE = "deadletter_original"


@dataclass(frozen=True)
class DeadLetterPolicy:
    """What a dead letter keeps of the original: always a keyed hash and a redacted
    preview; the bytes themselves only with ``keep_original`` (an operator's choice), or
    when the record came from one of ``minimised_sources``: our own outputs (enriched
    feedback, follow-ups) are already redacted and pseudonymised, so keeping one holds no
    more than its topic does, and a record the index refused can still be re-driven."""

    hash_key: bytes
    keep_original: bool = False
    minimised_sources: frozenset[str] = frozenset()

    def keeps(self, source_topic: str) -> bool:
        """Whether a dead letter from ``source_topic`` carries its original bytes."""
        return self.keep_original or source_topic in self.minimised_sources

    @classmethod
    def ephemeral(cls) -> DeadLetterPolicy:
        """No originals, and a key made once per process: for handlers built without the
        worker's policy (tests, tools). Hashes then match only within this process; the
        worker always passes the configured policy (``streams.privacy``)."""
        return _EPHEMERAL


_EPHEMERAL = DeadLetterPolicy(hash_key=secrets.token_bytes(32))


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
    cut = len(text) > PREVIEW_SCAN_CHARS
    text = _SPACE.sub(" ", _MARKUP.sub(" ", text[:PREVIEW_SCAN_CHARS])).strip()
    # a lone surrogate (legal in a JSON escape) cannot be encoded as UTF-8 downstream
    text = redact(text).text.encode("utf-8", "replace").decode("utf-8")
    if cut:  # an unredacted fragment at the cut sits, verbatim, at the very end
        text = text[: max(0, len(text) - _CUT_MARGIN)].rstrip()
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def original_hmac(original: bytes, key: bytes) -> str:
    """The keyed hash a dead letter carries of its original (hex HMAC-SHA256)."""
    return keyed_digest(original, key, ORIGINAL_PURPOSE)


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
    policy: DeadLetterPolicy | None = None,
    now: datetime | None = None,
) -> DeadLetter:
    """One DeadLetter record for a message that could not be processed, keeping what
    ``policy`` allows of the original (``DeadLetterPolicy.ephemeral()`` when None)."""
    policy = policy or _EPHEMERAL
    original = original or b""
    size = len(original)
    digest = original_hmac(original, policy.hash_key)
    kept = b""
    keep = policy.keeps(source_topic)
    if keep:
        kept = original
        if len(original) > MAX_ORIGINAL_BYTES:
            cut = f"[original truncated to {MAX_ORIGINAL_BYTES} of {len(original)} bytes]"
            error = f"{error[:300]} {cut}"
            kept = original[:MAX_ORIGINAL_BYTES]
    return DeadLetter(
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        key=safe_key(key),
        reason=reason,
        error=error[:MAX_ERROR_CHARS],
        original_b64=base64.b64encode(kept).decode("ascii"),
        original_kept=keep,
        original_hmac=digest,
        original_size=size,
        preview=safe_preview(original),
        failed_at=now or datetime.now(UTC),
    )


def deadletter_bytes(record: DeadLetter) -> bytes:
    """Wire form of a dead letter (JSON, UTF-8)."""
    return record.model_dump_json().encode("utf-8")
