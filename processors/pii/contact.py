# ruff: noqa: E501 - pattern tables (cue words, TLDs) read best one per line
"""E-mail addresses (as written, spelled out or obfuscated) and secrets (tokens and
passwords in URLs and in text).

Linear time: patterns start only at token starts, repetitions are bounded, and adjacent
atoms begin with different characters (no ambiguous backtracking).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from processors.pii.spans import Span

_LOCAL = r"[\w!#$%&'*+/=?^`{|}~.\-]"
_EMAIL = re.compile(
    rf"(?<!{_LOCAL}){_LOCAL}{{1,64}}\s{{0,2}}(?:@|%40)\s{{0,2}}"
    r"(?:[\w\-]{1,63}\.){1,30}[\w\-]{2,63}(?![\w\-])"
)
_DOT_WORDS = r"dot|punto|point|punkt|ponto|kropka|punt"
_AT_WORDS = r"at|arroba|arobase|bei|chiocciola|apenstaartje|ma[łl]pa"
_OPEN, _CLOSE = r"[(\[{<]", r"[)\]}>]"
# "john dot smith at gmail dot com", "john(at)gmail(dot)com", "j.smith [at] mail [dot] fr"
_SPELLED = re.compile(
    rf"(?<![\w.\-])([\w+\-]{{1,64}}(?:(?:\s?\.\s?|\s?{_OPEN}\s?(?:{_DOT_WORDS})\s?{_CLOSE}\s?"
    rf"|\s(?:{_DOT_WORDS})\s|_)[\w+\-]{{1,64}}){{0,4}})"
    rf"(\s?{_OPEN}\s?(?:{_AT_WORDS})\s?{_CLOSE}\s?|\s(?:{_AT_WORDS})\s|\s?@\s?)"
    rf"([\w\-]{{1,63}}(?:(?:\s?\.\s?|\s?{_OPEN}\s?(?:{_DOT_WORDS})\s?{_CLOSE}\s?"
    rf"|\s(?:{_DOT_WORDS})\s)[\w\-]{{1,63}}){{1,4}})(?![\w\-])"
)
_TLDS = frozenset(
    ["com", "net", "org", "edu", "gov", "info", "biz", "io", "co", "uk", "de", "fr", "es", "it", "pt", "nl", "pl", "be", "ch", "at", "ie", "eu", "us", "ca", "au", "se", "no", "dk", "fi", "cz", "br", "mx", "ar", "cl", "ru", "in", "jp", "cn", "me", "tv", "app", "dev", "email", "online", "shop"]
)

# Spelled out with words only ("x at y dot in"), the ending must be a TLD that is not
# also a common word ("Start riding at this point in time").
_WORD_TLDS = _TLDS - {"in", "be", "at", "me", "us", "no", "to", "is", "do", "am", "as", "so",
                      "tv", "app", "dev", "email", "online", "shop", "ar", "cl"}
_NOT_LOCAL = frozenset(
    ["booked", "stayed", "bought", "ordered", "arrived", "shop", "shopping", "look", "looked", "available", "online", "me", "us", "them", "it", "is", "was", "order", "purchased", "buy", "bought", "sold", "listed", "found", "see", "visit", "go", "went", "signed", "registered", "log", "logged", "login", "account", "paid", "pay", "payment", "here", "there"]
)




def find_emails(s: str, low: str) -> Iterator[Span]:
    if "@" in s or "%40" in s:
        for e in _EMAIL.finditer(s):
            yield Span(e.start(), e.end(), "email")
    if "." not in s and "dot" not in low and "punt" not in low and "po" not in low:
        return  # every domain has a dot, written or spelled
    pos = 0
    while True:
        m = _SPELLED.search(low, pos)
        if m is None:
            return
        if _spelled_email_ok(m):
            yield Span(m.start(), m.end(), "email")
            pos = m.end()
        else:  # "email me at j.dupont(at)wp.pl": retry from the next word, not past the match
            nxt = low.find(" ", m.start() + 1, m.end())
            pos = m.end() if nxt < 0 else nxt + 1


def _spelled_email_ok(m: re.Match[str]) -> bool:
    at = m.group(2).strip().lower()
    tld = re.split(r"[\s.()\[\]{}<>]+", m.group(3).lower())[-1]
    bracketed = at[:1] in "([{<"
    if not bracketed and at != "@" and m.group(1).lower() in _NOT_LOCAL:
        return False  # "booked at booking.com": a web site, not an address
    literal_dot = "." in m.group(3)
    return (tld in (_TLDS if literal_dot or bracketed else _WORD_TLDS)
            or (bracketed and 2 <= len(tld) <= 24 and tld.isalpha()))


# ----------------------------------------------------------------- secrets

_URL_SECRET = re.compile(
    r"(?<=[?&;#/])(?:access_?token|auth_?token|refresh_?token|id_?token|token|api_?key|"
    r"apikey|key|secret|client_?secret|password|passwd|pwd|pass|sig|signature|session_?id|"
    r"sessionid|sid|auth|code|otp|x-amz-signature|x-amz-credential)=([^\s&#\"'<>]{1,512})"
)
_USERINFO = re.compile(r"\b[a-z][a-z0-9+.\-]{1,15}://[^\s/:@]{1,128}:([^\s/@]{1,256})@")
_TEXT_SECRET = re.compile(
    r"\b(?:password|passwd|pwd|pw|passcode|pass\s?word|pin(?:\s?code)?|otp|one[\s\-]time\s"
    r"(?:code|password)|verification\scode|api\s?key|token|contrase[ñn]a|clave|"
    r"mot\sde\spasse|code\ssecret|passwort|kennwort|parola\sd'ordine|senha|wachtwoord|"
    r"has[łl]o(?:\sto)?|pincode|code\spin|c[óo]digo\spin)\b"
    r"((?:\s(?:is|es|est|ist|è|é|was|era|était|war|era|:|=|now))?\s?(?:is\s)?[\s:=]{0,3})"
    r"[\"'\u201c\u2018]?([^\s\"'\u201d\u2019]{3,128})"
)
_LINK = re.compile(r"[:=]|\b(?:is|es|est|ist|è|é|was|era|était|war|now)\b|has[łl]o\sto")
# what follows "my PIN is" when it is a state, not the secret ("blocked", "missing")
_STATE_WORD = re.compile(r"(?:ed|ing|ado|ada|ido|ida|é|ée|iert|ato|ata|ny|na)$")
_NOT_SECRET = frozenset(
    ["missing", "blocked", "sent", "disabled", "compromised", "stolen", "gone", "new", "old",
     "same", "different", "correct", "right", "fine", "ok", "there", "here", "gesperrt",
     "bloqué", "falsch", "kaputt", "wrong", "incorrect", "expired", "invalid", "reset", "the", "my", "your", "a", "an", "not", "too", "being", "been", "still", "changed", "forgotten", "lost", "locked", "required", "needed", "does", "doesn't", "did", "didn't", "isn't", "wasn't", "and", "or", "but", "for", "to", "of", "in", "on", "at", "with", "that", "this", "it", "was", "is", "are", "has", "have", "had", "will", "won't", "incorrecto", "incorrecta", "incorrect", "falsch", "sbagliata", "errada", "fout", "błędne", "niet", "nicht", "no", "non", "caducado", "expiré", "abgelaufen", "scaduta", "expirada", "verlopen"]
)
_TOKEN_SHAPES = re.compile(
    r"(?<![\w\-])(?:eyJ[\w\-]{5,2000}\.[\w\-]{5,2000}\.[\w\-]{5,2000}|"
    r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,200}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,200}|"
    r"xox[abprs]-[A-Za-z0-9\-]{10,200})(?![\w\-])"
)
_BEARER = re.compile(r"\b(?:bearer|basic)\s([A-Za-z0-9\-._~+/]{8,2000}=*)")


_SECRET_HINTS = ("pass", "pwd", "pw", "pin", "otp", "code", "key", "token", "contrase", "clave",
                 "mot de", "kennwort", "parola", "senha", "wachtwoord", "has")


def find_secrets(s: str, low: str) -> Iterator[Span]:
    if "=" in s:
        for m in _URL_SECRET.finditer(low):
            yield Span(m.start(1), m.end(1), "secret")
    if "://" in s:
        for m in _USERINFO.finditer(low):
            yield Span(m.start(1), m.end(1), "secret")
    if not any(h in low for h in _SECRET_HINTS):
        return
    for m in _TEXT_SECRET.finditer(low):
        value = m.group(2).rstrip(".,;:!?)")
        if value in _NOT_SECRET or len(value) < 3:
            continue
        # "PIN sent to my phone": a secret follows a linking word or has a digit or symbol
        if m.start() and low[m.start() - 1] == "#":
            continue  # "#OTP": a hashtag
        linked = _LINK.search(low, m.start(), m.start(2)) is not None
        head = re.match(r"[\w\-]*", value)
        if not linked and not (head and any(c.isdigit() for c in head.group(0))):
            continue  # "PIN drop...", "PIN sent": no "is"/":" and nothing secret-shaped
        if value.isalpha() and len(value) < 12 and _STATE_WORD.search(value):
            continue
        yield Span(m.start(2), m.start(2) + len(value), "secret")
    for m in _BEARER.finditer(low):
        yield Span(m.start(1), m.end(1), "secret")


def find_tokens(s: str, low: str) -> Iterator[Span]:
    """Credential shapes that need no cue (JWTs, cloud and API keys)."""
    for m in _TOKEN_SHAPES.finditer(s):
        yield Span(m.start(), m.end(), "secret")
