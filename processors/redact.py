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


def _replace(text: str, spans: list[Span]) -> str:
    parts: list[str] = []
    pos = 0
    for sp in spans:
        parts.append(text[pos : sp.start])
        parts.append(PLACEHOLDERS[sp.kind])
        pos = sp.end
    parts.append(text[pos:])
    return "".join(parts)


def _to_original(spans: list[Span], done: list[Span]) -> list[Span]:
    """Spans found in the redacted text, in the coordinates of the original text (they never
    overlap a placeholder: placeholders are protected)."""
    shifts: list[tuple[int, int]] = []  # (end of placeholder in redacted text, offset)
    offset = 0
    for sp in done:
        start_red = sp.start - offset
        offset += (sp.end - sp.start) - len(PLACEHOLDERS[sp.kind])
        shifts.append((start_red + len(PLACEHOLDERS[sp.kind]), offset))

    def back(pos: int) -> int:
        shift = 0
        for end_red, off in shifts:
            if end_red <= pos:
                shift = off
        return pos + shift

    return [Span(back(sp.start), back(sp.end), sp.kind) for sp in spans]


def redact(text: str) -> Redaction:
    """Replace every PII finding with its placeholder (``[PHONE]``, ``[NAME]``...).

    A replacement can change what its neighbours look like (a digit run glued to a phone
    number is a code's tail until the phone becomes ``[PHONE]``), so the detector runs
    again on the redacted text until nothing new is found (at most three passes; most
    messages have no PII and take one): redacting a redacted text changes nothing.
    """
    spans = detect(text)
    if not spans:
        return Redaction(text=text, kinds=[], spans=[])
    out = _replace(text, spans)
    for _ in range(2):
        more = detect(out)
        if not more:
            break
        spans = sorted(spans + _to_original(more, spans), key=lambda sp: sp.start)
        out = _replace(text, spans)
    return Redaction(text=out, kinds=sorted({sp.kind for sp in spans}), spans=spans)
