"""Run every detector over the shadow, settle overlaps, map spans back to the original."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from processors.pii.contact import find_emails, find_secrets, find_tokens
from processors.pii.cues import find_addresses, find_dobs, find_names, find_passports
from processors.pii.numbers import (
    EU_POSTCODE_AFTER_ADDRESS,
    find_bank,
    find_cards,
    find_ibans,
    find_national_ids,
    find_phones,
    find_postcodes,
    find_spelled_phones,
)
from processors.pii.shadow import make_shadow
from processors.pii.spans import Span

#: Bumped whenever what is detected changes; recorded on every enriched record.
DETECTOR_VERSION = "pii-2"

PLACEHOLDERS: dict[str, str] = {
    "phone": "[PHONE]", "email": "[EMAIL]", "card": "[CARD]", "postcode": "[POSTCODE]",
    "iban": "[IBAN]", "sortcode": "[SORTCODE]", "account": "[ACCOUNT]", "ssn": "[SSN]",
    "nino": "[NINO]", "passport": "[PASSPORT]", "dob": "[DOB]", "name": "[NAME]",
    "address": "[ADDRESS]", "secret": "[SECRET]",
}
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)
# When two findings overlap, the earlier kind in this list wins (then the longer span).
_PRIORITY = {k: i for i, k in enumerate(
    ("secret", "email", "iban", "card", "ssn", "nino", "passport", "dob", "sortcode",
     "account", "postcode", "phone", "address", "name"))}
_PLACEHOLDER = re.compile(r"\[(?:{})\]".format("|".join(p[1:-1] for p in PLACEHOLDERS.values())))

# A detector reads the shadow and its lower-case twin (same length: the shadow folds the
# one character whose lower case is longer), so cue words match without IGNORECASE,
# which makes Python's re try every alternative at every position.
Detector = Callable[[str, str], Iterator[Span]]
DETECTORS: tuple[Detector, ...] = (
    find_secrets, find_tokens, find_emails, find_ibans, find_cards, find_national_ids,
    find_passports,
    find_dobs, find_bank, find_phones, find_spelled_phones, find_addresses, find_postcodes,
    find_names,
)


def _settle(spans: list[Span], protected: list[tuple[int, int]]) -> list[Span]:
    """Non-overlapping spans, the higher-priority (then longer) finding winning."""
    chosen: list[Span] = []
    ranked = sorted(spans, key=lambda sp: (_PRIORITY[sp.kind], -(sp.end - sp.start), sp.start))
    occupied = list(protected)
    for sp in ranked:
        if sp.end <= sp.start:
            continue
        if any(sp.start < e and s < sp.end for s, e in occupied):
            continue
        chosen.append(sp)
        occupied.append((sp.start, sp.end))
    return sorted(chosen, key=lambda sp: sp.start)


def detect(text: str) -> list[Span]:
    """Every PII finding in ``text``, as non-overlapping spans of the original text."""
    sh = make_shadow(text)
    s = sh.text
    protected = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(s)]
    if protected:  # a placeholder reads as the word it replaced, so a second pass agrees
        s = _PLACEHOLDER.sub(lambda m: "x" * len(m.group(0)), s)
    low = s.lower()
    if len(low) != len(s):  # unreachable through make_shadow; kept for direct callers
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in s)
    found: list[Span] = []
    for detector in DETECTORS:
        found.extend(detector(s, low))
    # a European postcode written right after a street address ("Calle Mayor 5, 28013 Madrid")
    for sp in [f for f in found if f.kind == "address"]:
        m = EU_POSTCODE_AFTER_ADDRESS.match(s, sp.end)
        if m:
            found.append(Span(m.start(1), m.end(1), "postcode"))
    return [Span(*sh.span(sp.start, sp.end), sp.kind) for sp in _settle(found, protected)]
