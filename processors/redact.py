"""Replace personal data with typed placeholders before any text leaves the processor.

What is found, and how, lives in ``processors.pii`` (one detector, also used by the log
scrubber); this module turns its spans into placeholders and reports the kinds found.
Ordinary numbers ("order 12345", "£25", "2 days", delivery dates, versions, model
numbers) are left alone. Every pattern runs in linear time (tests/unit/test_pii_hostile.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from processors.pii import DETECTOR_VERSION, KINDS, PLACEHOLDERS, Span, detect
from processors.pii.numbers import iban_ok, luhn_ok

__all__ = ["DETECTOR_VERSION", "KINDS", "PLACEHOLDERS", "Redaction", "iban_ok", "luhn_ok",
           "redact"]


@dataclass(frozen=True)
class Redaction:
    """Redacted text, the kinds of PII found (sorted, unique) and where they were."""

    text: str
    kinds: list[str]
    spans: list[Span] = field(default_factory=list)
    detector: str = DETECTOR_VERSION

    @property
    def redacted(self) -> bool:
        return bool(self.kinds)


def redact(text: str) -> Redaction:
    """Replace every PII finding with its placeholder (``[PHONE]``, ``[NAME]``...)."""
    spans = detect(text)
    if not spans:
        return Redaction(text=text, kinds=[], spans=[])
    parts: list[str] = []
    pos = 0
    for sp in spans:
        parts.append(text[pos : sp.start])
        parts.append(PLACEHOLDERS[sp.kind])
        pos = sp.end
    parts.append(text[pos:])
    return Redaction(text="".join(parts), kinds=sorted({sp.kind for sp in spans}), spans=spans)
