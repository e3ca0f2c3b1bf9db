# ruff: noqa: E501 - pattern tables (cue words, TLDs) read best one per line
"""PII that only its context gives away: people's names, street addresses, dates of birth
and passport numbers, in English, Spanish, French, German, Italian, Portuguese, Dutch and
Polish.

Cue patterns rather than a named-entity model: a message's names and addresses sit after
a handful of phrases ("my name is", "signed", "account holder", a house number before a
street word), these cost a few microseconds per message where a PyPI NER model costs
milliseconds, and they cover all eight languages with one table (bench/pii.py measures
both recall and cost). Linear time as in ``numbers``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from processors.pii.spans import Span

_L = r"[^\W\d_]"  # a letter, any script
_WORD = rf"{_L}[\w'\u2019\-]{{0,30}}"
_IS = r"(?:\s(?:is|es|est|ist|è|é|e|to|was|era|:))?"

# ----------------------------------------------------------------- names

_STRONG_NAME_CUES = (
    r"my name is|my name's|my full name is|name\s?:|full name\s?:|the name is|name's|"
    r"account holder(?:'s name)?(?: is| name is| name)?\s?:?|account name(?: is)?\s?:?|"
    r"me llamo|mi nombre es|mi nombre completo es|titular(?: de la cuenta)?(?: es)?\s?:?|"
    r"je m'appelle|je m\u2019appelle|mon nom est|mon nom complet est|titulaire(?: du compte)?(?: est)?\s?:?|"
    r"ich heiße|ich heisse|mein name ist|mein vollständiger name ist|kontoinhaber(?:in)?(?: ist)?\s?:?|"
    r"mi chiamo|il mio nome è|il mio nome e|titolare(?: del conto)?(?: è)?\s?:?|"
    r"meu nome é|meu nome e|o meu nome é|chamo-me|me chamo|titular da conta(?: é)?\s?:?|"
    r"mijn naam is|ik heet|rekeninghouder(?: is)?\s?:?|"
    r"nazywam się|mam na imię|moje imię to|właściciel(?:ka)? konta(?: to)?\s?:?"
)
# "I'm …" / "this is …": a capitalised word here is often not a name ("this is URGENT",
# "This is True"), so these need more evidence than a sign-off does (``_INTRO_CUES``).
_INTRO_CUES = (
    r"i am|i'm|i\u2019m|this is|it's|it is|soy|je suis|c'est|ich bin|hier ist|sono|"
    r"sou|aqui é|ik ben|jestem|z tej strony"
)
_SIGNOFF_CUES = (
    r"signed|mit freundlichen grüßen|mfg|viele grüße|"
    r"beste grüße|liebe grüße|grüße|gruß|regards|kind regards|best regards|best wishes|"
    r"many thanks|thanks|thank you|cheers|sincerely|yours sincerely|yours faithfully|best(?=,)|"
    r"atentamente|saludos|un saludo|cordialement|bien à vous|salutations|cordiali saluti|"
    r"distinti saluti|saluti|grazie|atenciosamente|cumprimentos|obrigad[oa]|"
    r"met vriendelijke groet|groeten|mvg|z poważaniem|pozdrawiam|dziękuję|gracias|merci|danke"
)
_TITLES = (
    r"mr|mrs|ms|miss|dr|sir|madam|sr|sra|srta|don|doña|m|mme|mlle|monsieur|madame|herr|frau|"
    r"sig|sig\.ra|signor|signora|pan|pani|dhr|mevr|mevrouw|meneer|senhor|senhora"
)
_NAME_CUE = re.compile(
    rf"(?<![\w])(?:({_STRONG_NAME_CUES})|({_INTRO_CUES})|({_SIGNOFF_CUES})|({_TITLES})\.?)"
    rf"[\s,:\-]{{1,3}}({_WORD}(?:[,.;:!?]?\s{_WORD}){{0,3}}[,.;:!?]?)"
)
_PARTICLES = frozenset(
    ["van", "von", "de", "da", "del", "della", "di", "du", "le", "la", "dos", "das", "der", "den", "ter", "ten", "y", "e", "bin", "al"]
)
# Capitalised words that follow "I'm" / "this is" / a sign-off without being a name.
_NOT_NAME = frozenset(
    """i a an the very so really extremely not no sorry writing calling here still just also
    again now back being getting going trying done sick tired angry furious upset disappointed
    fed happy unhappy annoyed livid gutted frustrated confused worried shocked appalled
    disgusted ridiculous unacceptable outrageous absurd terrible awful one customer client
    member your you my we our team all everyone guys support sir madam in on at to from for
    with and or but because about after before since hi hello dear ok okay yes thanks thank
    regards please re fw fwd monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december today
    tomorrow yesterday muy estoy harto harta molesto enfadado enfadada cliente aquí très
    vraiment sehr wirklich kunde kundin molto davvero muito erg echt klant bardzo klient
    klientka than what like who how why when where which that there then is are be was were
    grateful thankful sure glad proud excited ready afraid scared new""".split()  # noqa: SIM905 - a word table
)


def _name_words(words: list[str], strong: bool) -> int:
    """How many leading words are the name (0: none); a word ending in punctuation ends it."""
    count = 0
    for i, raw in enumerate(words):
        w = raw.rstrip(",.;:!?")
        low = w.lower()
        if low in _PARTICLES and 0 < i < len(words) - 1 and words[i + 1][:1].isupper():
            count += 1
            continue
        if low in _NOT_NAME or not w[:1].isalpha():
            break
        capital = w[:1].isupper()
        if not capital and not (strong and i < 2):
            break
        if not capital and strong and i == 1 and not words[0][:1].islower():
            break  # "my name is John and": lower-case after a capitalised name stops it
        if not strong and len(w) > 1 and w.isupper():
            break  # "this is URGENT": shouting, not a name
        count = i + 1
        if w != raw:
            break
    return count


_INTRO_FOLLOWERS = frozenset(["here", "from", "speaking", "calling", "account", "and"])


def find_names(s: str, low: str) -> Iterator[Span]:
    for m in _NAME_CUE.finditer(low):
        strong, intro, title = m.group(1) is not None, m.group(2) is not None, m.group(4)
        if title is not None and not s[m.start(4)].isupper():
            continue  # "m" or "sir" inside a sentence, not a title
        value = s[m.start(5) : m.end(5)]  # the cue matched case-blind; the name keeps its case
        spans = [(w.start(), w.end(), w.group(0)) for w in re.finditer(r"\S+", value)]
        n = _name_words([w for _, _, w in spans], strong)
        if not n:
            continue
        if intro and not _intro_is_a_name(s, m.start(5) + spans[n - 1][1], n, m.group(2)):
            continue
        if m.group(3) is not None and not _signs_off(s, m, spans[n - 1][1], n):
            continue  # "Ali Signed Olympics Picture", "thank you Studio X": not a sign-off
        if title is not None and not _title_is_a_title(s, m):
            continue
        base = m.start(5)
        end = base + spans[n - 1][1]
        while end > base and not s[end - 1].isalnum():
            end -= 1
        yield Span(base + spans[0][0], end, "name")


_GRATITUDE = frozenset(
    ["thanks", "thank you", "many thanks", "grazie", "gracias", "merci", "danke", "dziękuję",
     "obrigado", "obrigada"])


def _signs_off(s: str, m: re.Match[str], value_end: int, words: int) -> bool:
    """A sign-off starts a sentence; "thanks X" is one only with a comma after "thanks"
    or when the name ends the sentence ("Thanks Emily.", not "Thank you Wikileaks for")."""
    if not _starts_a_sentence(s, m.start()):
        return False
    if m.group(3) not in _GRATITUDE:
        return True
    if s[m.end(3) : m.start(5)].strip().startswith(","):
        return True
    rest = s[m.start(5) + value_end : m.start(5) + value_end + 3].strip()
    return not rest or rest[0] in ".!,;\u2014-" or not rest[0].isalpha()


def _title_is_a_title(s: str, m: re.Match[str]) -> bool:
    """"Mr Smith" yes; "DON'T MISS: Ashley" no (shouted, or a colon after it)."""
    title = s[m.start(4) : m.end(4)]
    return not (len(title) > 1 and title.isupper()) and not any(
        c in s[m.end(4) : m.start(5)] for c in ":,")


def _starts_a_sentence(s: str, start: int) -> bool:
    before = s[max(0, start - 40) : start].rstrip()
    return not before or before[-1] in ".!?,;:-\u2014\u2013)" or before.endswith("--")


def _intro_is_a_name(s: str, end: int, words: int, cue: str) -> bool:
    """"I'm Negan" yes; "This is True!!!", "This Is Us is…" no: after "this is" / "it's"
    a name is two words, or one followed by a comma, full stop, "here", "from"…"""
    first = s[:end].split()[-words].rstrip(",.;:!?")
    if first.lower().endswith("ing") and len(first) >= 5:
        return False  # "I'm Dying", "this is Amazing"
    if words >= 2:
        return True
    rest = s[end : end + 12]
    if s[end - 1 : end] in (",", ".", ";") or rest[:1] in (",", ".", ";") or not rest.strip():
        return True  # "soy Carlos, titular…"
    nxt = rest.split()[0].lower() if rest.split() else ""
    if cue in ("i am", "i'm", "i\u2019m", "ich bin", "ik ben", "jestem", "soy", "sono", "sou",
               "je suis") and not nxt[:1].isalpha():
        return True  # "I'm Negan 😎"
    return nxt in _INTRO_FOLLOWERS


# ----------------------------------------------------------------- addresses

_STREET_AFTER = (  # "221B Baker Street": the street word follows the name
    r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|court|ct|way|place|pl|crescent|"
    r"terrace|boulevard|blvd|square|sq|gardens|grove|hill|park|row|mews|parade|walk|view|"
    r"highway|hwy|parkway|pkwy|circle|cir|trail|green|rise|wharf|quay"
)
_STREET_BEFORE = (  # "calle Mayor 12", "12 rue de la Paix", "via Roma 10", "ul. Długa 5"
    r"calle|c/|avenida|avda\.|av\.|plaza|pza\.|paseo|camino|carretera|ronda|carrer|"
    r"rue|avenue|boulevard|bd|chemin|allée|allee|impasse|quai|route|cours|place|"
    r"via|vía|viale|piazza|corso|largo|vicolo|piazzale|"
    r"rua|travessa|praça|praca|estrada|alameda|"
    r"ulica|ul\.|aleja|al\.|plac|osiedle|os\."
)
_DE_NL_SUFFIX = (
    r"straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|"
    r"straat|laan|gracht|plein|kade|dijk|steeg|singel"
)
_HOUSE = r"\d{1,5}[A-Za-z]?(?:[/\-]\d{1,4}[A-Za-z]?)?"
_ADDR_EN = re.compile(
    rf"(?<![\w/\-.,])(?:(?:flat|apt|apartment|unit|suite)\s{_HOUSE},?\s)?{_HOUSE}\s"
    rf"(?:{_WORD}\s){{0,4}}(?:{_STREET_AFTER})\b\.?"
)
_ADDR_FR = re.compile(
    rf"(?<![\w/\-.,]){_HOUSE}(?:\s?(?:bis|ter))?,?\s(?:{_STREET_BEFORE})\s"
    rf"{_WORD}(?:\s{_WORD}){{0,4}}"
)
_ADDR_LATIN = re.compile(
    rf"(?<![\w])(?:{_STREET_BEFORE})\s(?:de\s|del\s|da\s|do\s|della\s|di\s)?"
    rf"{_WORD}(?:\s{_WORD}){{0,3}},?\s(?:n[º°o]\.?\s?|nr\.?\s?)?{_HOUSE}"
    r"(?:,?\s\d{1,2}(?:º|°|ª)\s?[A-Za-z]?)?(?![\w]|[.,]\d)"
)
_ADDR_DE_NL = re.compile(
    rf"(?<![\w])(?:{_L}[\w\-]{{0,40}}?(?:{_DE_NL_SUFFIX})|(?:{_WORD}\s)(?:straße|strasse|"
    rf"str\.|weg|allee|platz|straat|laan))\s{_HOUSE}(?![\w])"
)


def _trim_fr(text: str, start: int, end: int) -> int:
    """"12 rue de la Paix et je" -> stop before the first lower-case non-particle word
    after the street word (the street's own name is capitalised)."""
    words = list(re.finditer(r"\S+", text[start:end]))
    keep = end
    for i, w in enumerate(words):
        if i < 3:
            continue  # house number, street word, first name word
        token = w.group(0)
        if token.lower() in _PARTICLES or token.lower() in ("des", "l'", "d'") or token[:1].isupper():
            continue
        keep = start + w.start()
        break
    return len(text[:keep].rstrip())


_YEARISH = re.compile(r"(?:19|20)\d\d(?:\D|$)|\d+-\d")
_PLAIN_STREET = frozenset(
    ["street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "boulevard", "blvd", "terrace", "crescent", "mews"])


def _street_name_ok(words: list[str], street_word: str) -> bool:
    """"221B Baker Street" yes; "2 more days down the road", "3 times in a row" no: the
    street's name is capitalised, or short, plain and after an unambiguous street word."""
    if not words:
        return False
    if street_word.lower().rstrip(".") not in _PLAIN_STREET and len(words) > 3:
        return False  # "2008 UD First Edition Starquest Green": a title, not a street
    if all(w[:1].isupper() or w.lower() in _PARTICLES for w in words) and words[0][:1].isupper():
        return True
    return (street_word.lower().rstrip(".") in _PLAIN_STREET and len(words) <= 2
            and not any(w.lower() in _NOT_NAME or w.lower() in _FUNCTION_WORDS for w in words))


_FUNCTION_WORDS = frozenset(
    ["more", "days", "down", "up", "the", "a", "an", "this", "that", "my", "our", "your", "his", "her", "their", "of", "in", "on", "to", "for", "by", "across", "along", "over", "under", "same", "other", "next", "last", "first", "second", "whole", "entire", "long"])


def _first_name_word_capitalised(words: list[str]) -> bool:
    for w in words:
        if w.lower() in _PARTICLES or w.lower() in ("des", "l'", "d'"):
            continue
        return w[:1].isupper() and not (len(w) > 1 and w.isupper())  # "Via USSR 2.0"
    return False


_DIGIT = re.compile(r"\d")
_LATIN_HINTS = ("calle", "c/", "avenida", "avda", "av.", "plaza", "pza", "paseo", "camino",
                "carretera", "ronda", "carrer", "via", "vía", "viale", "piazza", "corso", "largo",
                "vicolo", "rua", "travessa", "praça", "praca", "estrada", "alameda", "ulica",
                "ul.", "aleja", "al.", "plac", "osiedle", "os.")
_FR_HINTS = ("rue", "boulevard", "bd", "chemin", "allée", "allee", "impasse", "quai", "route",
             "cours", "place", "avenue")
_DE_NL_HINTS = ("stra", "str.", "weg", "gasse", "platz", "allee", "damm", "ufer", "chaussee",
                "laan", "gracht", "plein", "kade", "dijk", "steeg", "singel")


def find_addresses(s: str, low: str) -> Iterator[Span]:
    if _DIGIT.search(s) is None:
        return  # every address form here has a house number
    if any(h in low for h in _LATIN_HINTS):
        yield from _latin_addresses(s, low)
    if any(h in low for h in _DE_NL_HINTS):
        for m in _ADDR_DE_NL.finditer(low):
            if s[m.start()].isupper():
                yield Span(m.start(), m.end(), "address")
    if any(h in low for h in _FR_HINTS):
        yield from _fr_addresses(s, low)
    for m in _ADDR_EN.finditer(low):
        words = s[m.start() : m.end()].split()
        # drop "flat 4," and the house number; the last word is the street word
        while words and (words[0][:1].isdigit() or words[0].lower().rstrip(",") in (
                "flat", "apt", "apartment", "unit", "suite")):
            words.pop(0)
        house = s[m.start() : m.end()].split()[0]
        ambiguous = bool(words) and words[-1].lower().rstrip(".") not in _PLAIN_STREET
        if ambiguous and _YEARISH.match(house):
            continue  # "1997-98 Flair Showcase Row": a year, not a house number
        if len(words) >= 2 and _street_name_ok(words[:-1], words[-1]):
            yield Span(m.start(), m.end(), "address")


def _latin_addresses(s: str, low: str) -> Iterator[Span]:
    for m in _ADDR_LATIN.finditer(low):
        if _first_name_word_capitalised(s[m.start() : m.end()].split()[1:]):
            yield Span(m.start(), m.end(), "address")


def _fr_addresses(s: str, low: str) -> Iterator[Span]:
    for m in _ADDR_FR.finditer(low):
        words = s[m.start() : m.end()].split()
        rest = [w for w in words if not w[:1].isdigit() and w.lower() not in ("bis", "ter")][1:]
        if _first_name_word_capitalised(rest):
            end = _trim_fr(s, m.start(), m.end())
            yield Span(m.start(), end, "address")


# ----------------------------------------------------------------- dates of birth

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|"
    r"noviembre|diciembre|janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|"
    r"septembre|octobre|novembre|décembre|decembre|januar|februar|märz|maerz|juni|juli|"
    r"oktober|dezember|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|"
    r"dicembre|janeiro|fevereiro|março|marco|maio|junho|julho|setembro|outubro|novembro|"
    r"dezembro|januari|februari|maart|mei|augustus|stycznia|lutego|marca|kwietnia|maja|"
    r"czerwca|lipca|sierpnia|września|wrzesnia|października|pazdziernika|listopada|grudnia"
)
_DATE = (
    rf"(?:\d{{1,2}}[./\-\s]\d{{1,2}}[./\-\s](?:\d{{4}}|\d{{2}})(?![\d])"
    rf"|\d{{4}}[./\-]\d{{1,2}}[./\-]\d{{1,2}}(?![\d])"
    rf"|\d{{1,2}}(?:st|nd|rd|th|er|º|°|\.)?\s(?:de\s|of\s)?(?:{_MONTHS})\.?,?\s(?:de\s)?\d{{2,4}}(?![\d])"
    rf"|(?:{_MONTHS})\.?\s\d{{1,2}}(?:st|nd|rd|th)?,?\s\d{{4}}(?![\d]))"
)
_DOB = re.compile(
    r"\b(?:date of birth|d\.?o\.?b\.?|birth\s?date|birthday|born(?: on)?|"
    r"fecha de nacimiento|f\. nacimiento|nacid[oa] el|nací el|naci el|"
    r"date de naissance|née? le|ne le|geboren am|geburtsdatum|geb\.|"
    r"data di nascita|nat[oa] il|data de nascimento|nascid[oa] (?:em|a)|"
    r"geboortedatum|geboren op|data urodzenia|urodzon[ya](?: dnia)?|urodzi[łl]em się|"
    r"urodzi[łl]am się)"
    rf"(?:\s(?:is|was|es|est|ist|è|é|:|on|el|le|am|il|em|op|dnia|a)){{0,2}}[\s:,\-]{{0,3}}({_DATE})"
)


def find_dobs(s: str, low: str) -> Iterator[Span]:
    if _DIGIT.search(s) is None:
        return
    for m in _DOB.finditer(low):
        yield Span(m.start(1), m.end(1), "dob")


# ----------------------------------------------------------------- passports, ids

_PASSPORT = re.compile(
    r"\b(?:passport|pasaporte|passeport|reisepass|passaporto|passaporte|paspoort|"
    r"paszport|paszportu|passnummer|reisepassnummer|paspoortnummer|dni|nie|nif|"
    r"personalausweis|ausweis|carte d'identité|carta d'identità|identity card|id card|"
    r"driving licen[cs]e|driver'?s licen[cs]e|dowód osobisty|dowodu|bsn|codice fiscale|"
    r"cartão de cidadão|nif)"
    r"(?:\s(?:number|no\.?|num|nr\.?|n\.?[º°o]\.?|numero|número|numéro|nummer|numer))?"
    r"(?:\s(?:is|es|est|ist|è|é|to|was|:))?[\s:#.=]{0,3}"
    r"((?=[A-Za-z]{0,9}\d)[A-Za-z0-9]{5,16})(?![\w])"
)


def find_passports(s: str, low: str) -> Iterator[Span]:
    if _DIGIT.search(s) is None:
        return
    for m in _PASSPORT.finditer(low):
        yield Span(m.start(1), m.end(1), "passport")
