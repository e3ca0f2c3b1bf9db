"""Number-shaped PII: phones, payment cards (with CVV/expiry beside them), IBANs, sort
codes, account numbers, US SSNs, UK National Insurance numbers, postcodes.

Linear time: every pattern starts only at a token start (a negative look-behind), uses
bounded repetitions, and puts side by side only atoms whose first characters differ, so a
failed attempt backs off in a bounded number of steps (tests/unit/test_pii_hostile.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

from processors.pii.spans import Span

_SEP = r"[ ./_\-]"
# Phone candidates: optional +CC / 00, then 6-21 digits or bracketed groups, each
# preceded by at most three separators ("06 12 34 56 78", "0612/345678", "+44 (0) 7700").
_PHONE = re.compile(
    rf"(?<![\d+])(?:\+\s?|00)?(?:\(\s?\d{{1,5}}\s?\)|\d)"
    rf"(?:{_SEP}{{0,3}}(?:\(\s?\d{{1,5}}\s?\)|\d)){{5,20}}(?![\d])"
)
_PHONE_CUE = re.compile(
    r"\b(?:call|ring|text|txt|phone|mobile|mob|number|tel|telephone|whatsapp|contact|cell|"
    r"reach|tel[ée]fono|m[óo]vil|llamar?|llámame|t[ée]l[ée]phone|portable|appel(?:ez|er)?|"
    r"telefon|handy|nummer|rufnummer|anrufen|cellulare|telefono|numero|chiamare|chiamami|"
    r"telem[óo]vel|telefone|ligar|liga|mobiel|bellen|bel|numer|komórk[ai]|zadzwo[ńn])\b"
    r"(?:\s+(?:me|us|mir|moi|me|mi|mij|do mnie))?(?:\s+(?:on|at|au|al|unter|su|em|op|pod|na))?"
    r"(?:\s(?:no\.?|number|nr\.?|n[º°]|num|nummer|numero|número|numéro|numer))?"
    r"[\s:.#-]{0,3}(?:is|es|est|ist|è|é|to)?[\s:.#-]{0,3}$"
)
_NUMBER_CUE = re.compile(
    r"(?:order|ref|reference|invoice|ticket|case|tracking|parcel|booking|customer|"
    r"membership|policy|pedido|commande|bestellung|ordine|encomenda|bestelling|zamówienie|"
    r"bestelnummer|ordernummer|bestellnummer|sendungsnummer|auftragsnummer|kundennummer|"
    r"trackingnummer|seguimiento|suivi|rastreio|rastreamento|przesyłki|zamówienia|"
    r"referencia|référence|referenz|riferimento|rechnung|factura|facture|fattura|sendung|"
    r"no\.?|#)(?:\s*(?:number|no\.?|num|id|nr\.?|#|n[º°]))?\s*[:#]?\s*$"
)
_SEASON = re.compile(r"(?<!\d)(?:19|20)\d\d/\d\d(?!\d)")
_PHONE_REGIONS = ("GB", "FR", "DE", "ES", "IT", "PT", "NL", "PL", "US", "BE", "IE")


def _possible_international(digits: str) -> bool:
    try:
        num = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(num)


def _valid_national(digits: str) -> bool:
    """A national number valid in one of the regions whose customers write to us."""
    for region in _PHONE_REGIONS:
        try:
            num = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return True
    return False


def is_phone(match: str, before: str) -> bool:
    """Decide whether a digit run is a phone number rather than a quantity, date or id."""
    digits = "".join(c for c in match if c.isdigit())
    n = len(digits)
    stripped = match.lstrip()
    if stripped.startswith("+") or stripped.startswith("00"):
        core = digits[2:] if stripped.startswith("00") else digits
        return 8 <= len(core) <= 15 and (_possible_international(core) or len(core) >= 10)
    grouped = bool(re.search(_SEP + r"|\(", match))
    phone_cue = _PHONE_CUE.search(before)
    number_cue = _NUMBER_CUE.search(before)
    # the cue that starts first covers the other: "order number" vs "tel no."
    if phone_cue and (number_cue is None or phone_cue.start() <= number_cue.start()):
        return 7 <= n <= 15  # "call me on 447700900123": the words say it is a phone
    if _SEASON.search(match) or "/." in match:
        return False  # "2015/16 15/16", ".240/.295/.360": seasons and statistics
    if number_cue:
        word = re.sub(r"\W", "", number_cue.group(0)).lower()
        if word not in ("", "no") or not grouped:
            return False  # "order 4155550100", "invoice 2026-0042-17": an id, not a phone
    if n < 9 or n > 13:
        return False
    if "/" in match and n <= 8:
        return False
    if digits[0] == "0":
        return 9 <= n <= 12
    if n == 10 and digits[0] in "23456789":
        return True  # North American
    if n == 11 and digits[0] == "1":
        return True
    if not grouped:
        return False
    if n == 9 and digits[0] in "6789":
        return True  # Spain, Portugal, Poland: "612 345 678"
    return _valid_national(digits) or _possible_international(digits)


def find_phones(s: str, low: str) -> Iterator[Span]:
    for m in _PHONE.finditer(s):
        start = m.start()
        word = start
        while word > 0 and s[word - 1].isalnum() and start - word < 40:
            word -= 1
        if word < start and any(c.isdigit() for c in s[word:start]):
            continue  # the tail of a code like "1Z698AA3094920632", not a phone
        if is_phone(m.group(0), low[max(0, start - 40) : start]):
            yield Span(start, m.end(), "phone")


# Phones spelled out ("oh seven seven double oh nine hundred one two three"): at least
# seven digits' worth of digit words (any of eight languages) and digits in a row.
_DIGIT_WORDS: dict[str, int] = {
    w: i % 10 for i, w in enumerate(
        "zero one two three four five six seven eight nine "  # noqa: SIM905 - a table
        "cero uno dos tres cuatro cinco seis siete ocho nueve "
        "zéro un deux trois quatre cinq six sept huit neuf "
        "null eins zwei drei vier fünf sechs sieben acht neun "
        "zero uno due tre quattro cinque sei sette otto nove "
        "zero um dois três quatro cinco seis sete oito nove "
        "nul een twee drie vier vijf zes zeven acht negen "
        "zero jeden dwa trzy cztery pięć sześć siedem osiem dziewięć".split())
}
_DIGIT_WORDS.update({"oh": 0, "o": 0, "nought": 0, "nil": 0})
_REPEAT_WORDS = {"double": 2, "triple": 3, "doble": 2, "doppio": 2, "doppelt": 2}
_NUMBER_WORDS = "|".join(sorted({*_DIGIT_WORDS, *_REPEAT_WORDS}, key=len, reverse=True))
_SPELLED_PHONE = re.compile(
    rf"(?<![\w])(?:(?:{_NUMBER_WORDS}|hundred|\d)(?:[\s,.\-]{{1,3}}|$)){{7,30}}"
)


def find_spelled_phones(s: str, low: str) -> Iterator[Span]:
    for m in _SPELLED_PHONE.finditer(low):
        count, words, repeat = 0, 0, 1
        for tok in re.findall(r"[^\s,.\-]+", m.group(0)):
            if tok in _REPEAT_WORDS:
                repeat = _REPEAT_WORDS[tok]
                continue
            words += not tok.isdigit()
            count += (2 if tok == "hundred" else len(tok) if tok.isdigit() else 1) * repeat
            repeat = 1
        if count >= 7 and words >= 4:
            end = m.end()
            while end > m.start() and not low[end - 1].isalnum():
                end -= 1
            yield Span(m.start(), end, "phone")


# ----------------------------------------------------------------- payment cards

_CARD = re.compile(r"(?<![\d])\d(?:[ .\-/_]?\d){12,18}(?![\d])")
_CARD_CUE = re.compile(
    r"\b(?:card|cc|visa|mastercard|master card|amex|maestro|tarjeta|carte|karte|"
    r"kreditkarte|carta|cart[ãa]o|kaart|karta|kartą|karty|cb)\b"
    r"(?:\s(?:number|no\.?|nr\.?|num|n[º°]|is|es|est|ist|è|é|ending|in|de|di|da|do|to)){0,3}"
    r"[\s:#.=]{0,3}$"  # right before the number, not somewhere earlier in the line
)
# What customers put next to a card: CVV, expiry (with or without a label).
_CARD_TAIL = re.compile(
    r"[\s,;:.()\-]{0,4}(?:(?:cvv2?|cvc2?|csc|cid|security code|sec(?:urity)? code|"
    r"exp(?:iry|ires|iration)?(?: date)?|valid(?: thru| until| to)?|caduca|vence|"
    r"vencimiento|expire|date d'expiration|g[üu]ltig bis|ablauf|scadenza|validade|"
    r"ważna do|geldig tot|cod(?:e|igo|ice)?|kod)\.?[\s:=]{0,3})?"
    r"((?:0?[1-9]|1[0-2])\s?[/\-.]\s?(?:20)?\d{2}(?![\w/])|\d{3,4}(?![\w/]))"
)
_CVV_CUE = re.compile(
    r"\b(?:cvv2?|cvc2?|csc|card security code|security code|c[óo]digo de seguridad|"
    r"cryptogramme|kartenpr[üu]fnummer|codice di sicurezza|c[óo]digo de seguran[çc]a)"
    r"(?:\s(?:is|es|est|ist|è|é|to|number|no\.?))?[\s:=#]{0,3}(\d{3,4})(?![\w])"
)
_EXPIRY_CUE = re.compile(
    r"\b(?:exp(?:iry|ires|iration)?(?: date)?|expiry date|valid (?:thru|until)|"
    r"fecha de caducidad|caduca|date d'expiration|g[üu]ltig bis|scadenza|validade)"
    r"(?:\s(?:is|es|est|ist|è|é))?[\s:=]{0,3}((?:0?[1-9]|1[0-2])\s?[/\-.]\s?(?:20)?\d{2})(?![\w/])"
)


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


def find_cards(s: str, low: str) -> Iterator[Span]:
    for m in _CARD.finditer(s):
        digits = "".join(c for c in m.group(0) if c.isdigit())
        cue = _CARD_CUE.search(low[max(0, m.start() - 40) : m.start()]) is not None
        if not (luhn_ok(digits) or cue):
            continue
        yield Span(m.start(), m.end(), "card")
        pos = m.end()
        for _ in range(3):  # CVV and expiry written right after the number
            t = _CARD_TAIL.match(low, pos)
            if t is None:
                break
            yield Span(t.start(1), t.end(1), "card")
            pos = t.end()
    for pattern in (_CVV_CUE, _EXPIRY_CUE):
        for m in pattern.finditer(low):
            yield Span(m.start(1), m.end(1), "card")


# ----------------------------------------------------------------- bank details

_IBAN = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2}\d{2})((?:[ \-]?[A-Za-z0-9]){10,32})")
_IBAN_CUE = re.compile(r"\biban\b")
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31,
    "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
}


def iban_ok(candidate: str) -> bool:
    """ISO 13616 mod-97 check on an IBAN-shaped string."""
    s = candidate.replace(" ", "").replace("-", "").upper()
    if not 15 <= len(s) <= 34 or not s.isalnum() or not s.isascii():
        return False
    moved = s[4:] + s[:4]
    try:
        num = int("".join(str(int(c, 36)) for c in moved))
    except ValueError:
        return False
    return num % 97 == 1


def find_ibans(s: str, low: str) -> Iterator[Span]:
    for m in _IBAN.finditer(s):
        country = m.group(1)[:2].upper()
        cue = _IBAN_CUE.search(low[max(0, m.start() - 30) : m.start()]) is not None
        rest = m.group(2)
        # cut the greedy tail at the country's IBAN length (the next word is not part of it)
        want = IBAN_LENGTHS.get(country)
        alnum = sum(c.isalnum() for c in rest)
        lengths = [want - 4] if want else list(range(min(30, alnum), 10, -1))
        for need in lengths:
            count, end = 0, m.start(2)
            for i, ch in enumerate(rest):
                if ch.isalnum():
                    count += 1
                    if count == need:
                        end = m.start(2) + i + 1
                        break
            if count < need:
                continue
            after = s[end : end + 1]
            if after.isalnum() and not cue:
                continue
            if iban_ok(s[m.start() : end]) or (cue and want):
                yield Span(m.start(), end, "iban")
                break


_SORT_CODE = re.compile(
    r"\b(?:sort[\s\-]?code|s/c)(?:\s(?:is|was))?[\s:.#=]{0,3}"
    r"(\d{2}[\s.\-]?\d{2}[\s.\-]?\d{2})(?![\w])"
)
_ACCOUNT = re.compile(
    r"\b(?:(?:bank\s)?account|acct|acc(?=\s(?:no|number|nr|#))|a/c|n[úu]mero\sde\scuenta|cuenta(?:\sbancaria)?|"
    r"num[ée]ro\sde\scompte|compte(?:\sbancaire)?|kontonummer|konto(?:nr)?|"
    r"numero\sdi\sconto|conto(?:\scorrente)?|n[úu]mero\sda\sconta|conta(?:\sbanc[áa]ria)?|"
    r"rekeningnummer|rekening|numer\skonta|nr\skonta|rachunek|rachunku)"
    r"(?:\s(?:number|no|num|nr|n[º°]|#))?\.?(?:\s(?:is|es|est|ist|è|é|to|:|was))?"
    r"[\s:#.=]{0,3}(\d(?:[\s\-]?\d){5,25})(?![\w])"
)


def find_bank(s: str, low: str) -> Iterator[Span]:
    for m in _SORT_CODE.finditer(low):
        yield Span(m.start(1), m.end(1), "sortcode")
    for m in _ACCOUNT.finditer(low):
        yield Span(m.start(1), m.end(1), "account")


# ----------------------------------------------------------------- national ids

_SSN = re.compile(r"(?<![\w\-])(?!000|666|9\d\d)\d{3}([\- .])(?!00)\d{2}\1(?!0000)\d{4}(?![\w\-])")
_SSN_CUE = re.compile(
    r"\b(?:ssn|social security(?:\snumber|\sno\.?|\s#)?)(?:\s(?:is|was))?[\s:#=]{0,3}"
    r"(\d{3}[\s\-.]?\d{2}[\s\-.]?\d{4})(?![\w])"
)
_NINO = re.compile(
    r"(?<![\w])(?!bg|gb|nk|kn|tn|nt|zz)[a-ceghj-pr-tw-z][a-ceghj-npr-tw-z]"
    r"[\s\-]?\d{2}[\s\-]?\d{2}[\s\-]?\d{2}[\s\-]?[a-d](?![\w])"
)

_NINO_CUE = re.compile(
    r"\b(?:national insurance(?:\snumber|\sno\.?)?|ni\s(?:number|no\.?)|nino)"
    r"(?:\s(?:is|was))?[\s:#=]{0,3}([a-z]{2}[\s\-]?\d{2}[\s\-]?\d{2}[\s\-]?\d{2}[\s\-]?[a-d])(?![\w])"
)


def find_national_ids(s: str, low: str) -> Iterator[Span]:
    for m in _SSN.finditer(s):
        yield Span(m.start(), m.end(), "ssn")
    for m in _SSN_CUE.finditer(low):
        yield Span(m.start(1), m.end(1), "ssn")
    for m in _NINO.finditer(low):
        yield Span(m.start(), m.end(), "nino")
    for m in _NINO_CUE.finditer(low):
        yield Span(m.start(1), m.end(1), "nino")


# ----------------------------------------------------------------- postcodes

_UK_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2}\d[A-Za-z\d]?) ?"
    r"(\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2})(?![A-Za-z0-9])"
)
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    "NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_US_ZIP = re.compile(rf"\b(?:{_US_STATES}),?\s(\d{{5}}(?:-\d{{4}})?)(?![\d])")
_POSTCODE_CUE = re.compile(
    r"\b(?:zip(?:\s?code)?|postal\s?code|post\s?code|c[óo]digo\s+postal|c\.p\.|cp|"
    r"code\s+postal|plz|postleitzahl|cap|kod\s+pocztowy|postcode)(?:\s(?:is|es|est|ist|è|é))?"
    r"[\s:#.]{0,3}(\d{4,5}(?:-\d{3,4})?|\d{2}-\d{3}|\d{4}\s?[A-Za-z]{2})(?![\w])"
)
# European postcodes written before the town right after a street address.
EU_POSTCODE_AFTER_ADDRESS = re.compile(
    r"[\s,]{1,3}(\d{5}|\d{2}-\d{3}|\d{4}-\d{3}|\d{4}\s?[A-Z]{2}|[A-Z]-?\d{4,5}|\d{4})(?=\s[^\W\d_])"
)


_DIGIT = re.compile(r"\d")


def find_postcodes(s: str, low: str) -> Iterator[Span]:
    if _DIGIT.search(s) is None:
        return
    for m in _UK_POSTCODE.finditer(s):
        yield Span(m.start(), m.end(), "postcode")
    for m in _US_ZIP.finditer(s):
        yield Span(m.start(1), m.end(1), "postcode")
    for m in _POSTCODE_CUE.finditer(low):
        yield Span(m.start(1), m.end(1), "postcode")
