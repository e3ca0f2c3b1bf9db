"""A normalised shadow of the text that patterns match on, with a map back to the original.

Why: PII hidden with fullwidth or Arabic-Indic digits, zero-width characters or soft
hyphens must be found, yet the redacted text must keep everything that is not PII exactly
as written. The shadow drops invisible characters, folds compatibility forms (NFKC, per
character), turns every Unicode decimal digit into its ASCII digit and every dash into
``-``; ``starts``/``ends`` give each shadow character's span in the original.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")


@dataclass(frozen=True)
class Shadow:
    """``text`` is what patterns see; ``starts[i]``/``ends[i]`` locate shadow char i in
    the original (``None`` when the shadow is the original: plain ASCII)."""

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of shadow characters ``start..end`` (end exclusive)."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def _fold(ch: str) -> str:
    """What one non-ASCII character becomes in the shadow ('' for invisible ones)."""
    if ch in _DASHES:
        return "-"
    if ch == "\u0130":
        return "I"  # the one letter whose lower case is two characters
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Cc", "Cs", "Mn") and ch not in "\t\n\r":
        return ""  # zero-width, soft hyphen, bidi marks, stray combining marks
    if cat == "Nd":
        return str(unicodedata.decimal(ch))
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) == 1 and folded.isdigit():
        return str(unicodedata.decimal(folded, 0))
    if folded.isspace():
        return " "
    return folded if folded.isascii() or len(folded) == 1 else ch


def make_shadow(text: str) -> Shadow:
    """Linear in the text: ASCII text is its own shadow; otherwise one pass per character
    outside ASCII (the rest is copied in slices)."""
    if text.isascii():
        return Shadow(text)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _NON_ASCII.finditer(text):
        i = m.start()
        if i > pos:
            out.append(text[pos:i])
            starts.extend(range(pos, i))
            ends.extend(range(pos + 1, i + 1))
        folded = _fold(m.group(0))
        if folded:
            out.append(folded)
            starts.extend([i] * len(folded))
            ends.extend([i + 1] * len(folded))
        pos = i + 1
    if pos < len(text):
        out.append(text[pos:])
        starts.extend(range(pos, len(text)))
        ends.extend(range(pos + 1, len(text) + 1))
    return Shadow("".join(out), starts, ends)
