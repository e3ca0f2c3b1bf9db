# Verbatim copy of processors/redact.py before issue 18: bench/pii.py's baseline.
"""Replace personal data with typed placeholders before any text leaves the processor.

Order matters: e-mails first (they contain digits and dots), then IBANs and bank
details, payment cards (Luhn-checked, so most long numbers that are not cards
fall through), phone numbers, then postcodes. Ordinary numbers ("order 12345",
"£25", "2 days", dates) are left alone: phone candidates need a phone-like digit
count and grouping, US ZIP codes need context (a state code or the word "zip").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDERS: dict[str, str] = {
    "phone": "[PHONE]",
    "email": "[EMAIL]",
    "card": "[CARD]",
    "postcode": "[POSTCODE]",
    "iban": "[IBAN]",
}

_EMAIL = re.compile(
    r"[\w!#$%&'*+/=?^`{|}~.-]+@(?:[\w-]+\.)+[\w-]{2,}",
)
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
)
_IBAN_CONTEXT = re.compile(r"\biban\b", re.I)
_SORT_CODE = re.compile(r"(?i)\b(sort ?code[:\s]*)(\d{2}[- ]?\d{2}[- ]?\d{2})\b")
_ACCOUNT_NO = re.compile(
    r"(?i)\b((?:account|acct|a/c)(?:\s*(?:number|no\.?|num|#))?[:\s#]*)(\d{8,12})\b"
)
# 13-19 digits in groups separated by single spaces or dashes.
_CARD = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
# Phone candidates: optional +CC / 00CC, optional (area), digits with single separators.
_PHONE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d(?:[ .-]?\d){5,14}(?![\d])"
)
_UK_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2}\d[A-Za-z\d]?) ?"
    r"(\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2})(?![A-Za-z0-9])"
)
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    "NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_US_ZIP = re.compile(
    rf"((?:\b(?:{_US_STATES}),?\s+)|(?:(?i:\bzip(?:\s*code)?|\bpostal\s*code)[:\s#]*))"
    r"(\d{5}(?:-\d{4})?)(?![\d])"
)
_NUMBER_CONTEXT = re.compile(
    r"(?i)(?:order|ref|reference|invoice|ticket|case|tracking|parcel|booking|account|"
    r"customer|membership|policy|no\.?|#)(?:\s*(?:number|no\.?|num|id|#))?\s*[:#]?\s*$"
)


_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:call|ring|text|txt|phone|mobile|mob|number|tel|whatsapp|contact|cell|reach)"
    r"\b(?:\s+me)?(?:\s+(?:on|at))?[\s:.#-]*$"
)


@dataclass(frozen=True)
class Redaction:
    """Redacted text and the kinds of PII that were found (sorted, unique)."""

    text: str
    kinds: list[str]

    @property
    def redacted(self) -> bool:
        return bool(self.kinds)


def luhn_ok(digits: str) -> bool:
    """Payment-card checksum: weeds out order numbers and phone numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    """ISO 13616 mod-97 check on an IBAN-shaped string."""
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        num = int("".join(str(int(c, 36)) for c in moved))
    except ValueError:
        return False
    return num % 97 == 1


def _phone_like(match: str, before: str) -> bool:
    """Decide whether a digit run is a phone number rather than a quantity or id."""
    digits = re.sub(r"\D", "", match)
    groups = [g for g in re.split(r"[ .\-()]+", match.lstrip("+")) if g]
    n = len(digits)
    if match.startswith("+") or match.startswith("00"):
        return 8 <= n <= 15
    if len(groups) > 5 or max(len(g) for g in groups) < 3:
        return False
    if _PHONE_CONTEXT.search(before) and not _NUMBER_CONTEXT.search(before):
        return 7 <= n <= 15  # "call me on 447700900123": the words say it is a phone
    if digits.startswith("0"):
        return 10 <= n <= 11
    plain = len(groups) == 1
    if plain and _NUMBER_CONTEXT.search(before):
        return False  # "order 4155550100": an id the customer quotes, not a phone
    if n == 10:
        return digits[0] in "23456789"
    return n == 11 and digits[0] == "1"


def redact(text: str) -> Redaction:
    """Replace phones, e-mails, cards, postcodes and bank details with placeholders."""
    kinds: set[str] = set()

    def sub(kind: str) -> str:
        kinds.add(kind)
        return PLACEHOLDERS[kind]

    text = _EMAIL.sub(lambda m: sub("email"), text)

    def iban(m: re.Match[str]) -> str:
        if iban_ok(m.group(0)) or _IBAN_CONTEXT.search(text[max(0, m.start() - 20) : m.start()]):
            return sub("iban")
        return m.group(0)

    text = _IBAN.sub(iban, text)
    text = _SORT_CODE.sub(lambda m: m.group(1) + sub("iban"), text)
    text = _ACCOUNT_NO.sub(lambda m: m.group(1) + sub("iban"), text)

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return sub("card") if luhn_ok(digits) else m.group(0)

    text = _CARD.sub(card, text)

    def phone(m: re.Match[str]) -> str:
        before = text_now[max(0, m.start() - 20) : m.start()]
        return sub("phone") if _phone_like(m.group(0), before) else m.group(0)

    text_now = text
    text = _PHONE.sub(phone, text)
    text = _UK_POSTCODE.sub(lambda m: sub("postcode"), text)
    text = _US_ZIP.sub(lambda m: m.group(1) + sub("postcode"), text)
    return Redaction(text=text, kinds=sorted(kinds))

