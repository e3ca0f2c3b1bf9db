"""Turn an inbound SMS or survey reply into one internal ``Feedback``.

Everything downstream (redaction, models, urgency) sees the same shape, so the
channel-specific rules live here and nowhere else: the stable id, which field
carries the text, unicode clean-up, truncation and SMS opt-out keywords.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from schemas.records import Channel, InboundSMS, SurveyReply, SurveyScore

# Carrier-style opt-out keywords: only when they are the whole message.
OPT_OUT_KEYWORDS: frozenset[str] = frozenset(
    {
        "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit",
        "opt out", "optout", "opt-out", "revoke", "stop please", "please stop",
    }
)

_ZWJ = "\u200d"  # zero-width joiner glues emoji sequences together: the one format mark kept
_WS = re.compile(r"\s+")
_PLAIN_ASCII = re.compile(r"[\x20-\x7e]*")
_ZWJ_RUN = re.compile("\u200d+")
#: How far past the limit ``clean_and_truncate`` reads raw text, in multiples of the limit:
#: a body still shorter than the limit after this much clean-up is invisible junk.
MAX_SCAN_FACTOR = 16
# Characters ``clean_text`` drops: controls (Cc) other than the line-breaking ones, lone
# surrogates (Cs) and format marks (Cf) other than the zero-width joiner, as of Unicode
# 14 (tests/unit/test_normalize.py checks this list against ``unicodedata``). Spelled out
# as ranges so the scan is one C-level pass; astral marks are a second, rarer pass.
_DROP_BMP = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f"
    "\u0890-\u0891\u08e2\u180e\u200b-\u200c\u200e-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb]+"
)
_DROP_ASTRAL = re.compile(
    "[\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]+"
)
# Line-breaking controls and the line/paragraph separators (Zl, Zp) become spaces.
_BREAKS = re.compile("[\t\n\r\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")


def _keep_glued_zwj(m: re.Match[str]) -> str:
    """A joiner only means something between two visible characters (emoji sequences)."""
    s, start, end = m.string, m.start(), m.end()
    if start == 0 or end == len(s) or s[start - 1].isspace() or s[end].isspace():
        return ""
    return _ZWJ


_OPT_OUT_STRIP = re.compile(r"^[\W_]+|[\W_]+$")
# Whole-message opt-out requests in plain words ("Stop texting me", "unsubscribe please",
# "Please remove me from your list"). Anchored: a complaint that also says "stop" is a
# complaint ("stop charging me twice") and is enriched as one.
_NOT_WORD = re.compile(r"[^\w' ]+")
_POLITE = r"(?:please|pls|plz|thanks|thank you|ok|okay|now|asap)"
_OPT_OUT_PHRASE = re.compile(
    rf"^(?:{_POLITE}\s+)*(?:"
    r"(?:stop|quit|cease)\s+(?:all\s+)?(?:texting|messaging|sending|contacting|emailing|"
    r"spamming|calling)(?:\s+(?:me|us))?(?:\s+(?:texts|messages|these|this))?"
    r"|unsubscribe(?:\s+me)?(?:\s+from\s+(?:this|these|your|the)\s+\w+)?"
    r"|(?:remove|take)\s+me\s+off(?:\s+(?:this|your|the)\s+(?:list|texts|messages))?"
    r"|remove\s+(?:me|my number)(?:\s+from\s+(?:this|your|the)\s+(?:list|texts|messages|"
    r"mailing list|database))?"
    r"|(?:no|don'?t send(?: me)?)\s+more\s+(?:texts|messages|sms)"
    r"|(?:do not|don'?t)\s+(?:text|message|contact)\s+(?:me|us)(?:\s+(?:again|anymore|any more))?"
    r"|opt\s+me\s+out"
    rf")(?:\s+{_POLITE})*$"
)


@dataclass(frozen=True)
class Feedback:
    """One customer message, channel-independent, before redaction."""

    id: str
    channel: Channel
    brand: str
    customer_id: str | None
    received_at: datetime
    text: str
    survey: SurveyScore | None = None
    opt_out: bool = False
    truncated: bool = False


def clean_text(text: str) -> str:
    """NFKC-normalise, drop control/format characters, collapse whitespace.

    Emoji are kept (they carry sentiment); line breaks and tabs become single
    spaces; lone surrogates and invisible bidi/format marks are removed so
    they cannot hide PII from the redactor or break JSON encoders downstream.
    """
    if _PLAIN_ASCII.fullmatch(text):
        return _WS.sub(" ", text).strip()  # the common case: nothing to normalise
    # every step is one linear pass (NFKC, then regexes over character classes, no
    # backtracking): a megabyte of joiners costs what a megabyte of letters costs
    text = _BREAKS.sub(" ", _DROP_BMP.sub("", unicodedata.normalize("NFKC", text)))
    if max(text, default="\0") > "\uffff":
        text = _DROP_ASTRAL.sub("", text)
    if _ZWJ in text:
        text = _ZWJ_RUN.sub(_keep_glued_zwj, text)
    return _WS.sub(" ", text).strip()


def is_opt_out(text: str) -> bool:
    """True when the whole message is an opt-out keyword or a plain opt-out request
    ("stop texting me", "please remove me from your list"); case/punctuation-insensitive."""
    core = _WS.sub(" ", _OPT_OUT_STRIP.sub("", text.lower().replace("\u2019", "'")))
    if core in OPT_OUT_KEYWORDS:
        return True
    words = _NOT_WORD.sub(" ", core)
    return len(core) <= 80 and _OPT_OUT_PHRASE.match(_WS.sub(" ", words).strip()) is not None


def truncate(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut at ``max_chars`` (on a word boundary when one is near) and say whether we cut."""
    if len(text) <= max_chars:
        return text, False
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space >= max_chars * 0.8:
        cut = cut[:space]
    return cut.rstrip(), True


def clean_and_truncate(raw: str, max_chars: int) -> tuple[str, bool]:
    """``truncate(clean_text(raw))`` without cleaning a megabyte to keep 5,000 characters.

    Cleaning rarely grows text (NFKC expands a few ligatures) and often shrinks it
    (whitespace, controls), so a raw prefix a little over the limit is usually enough. When
    it cleans down to no more than the limit, a 4x longer prefix is tried, up to
    ``MAX_SCAN_FACTOR`` x the limit: the cost is bounded by the limit, never by the body
    (a body of invisible characters is cut there, and flagged as truncated).
    """
    window = max_chars + 16
    cap = MAX_SCAN_FACTOR * max_chars
    while len(raw) > window:
        head = clean_text(raw[:window])
        if len(head) > max_chars:
            return truncate(head, max_chars)[0], True
        if window >= cap:
            return head, True
        window = min(4 * window, cap)
    return truncate(clean_text(raw), max_chars)


def normalize(item: InboundSMS | SurveyReply, max_text_chars: int = 5000) -> Feedback:
    """Map an inbound record to ``Feedback``; opt-out is recognised for SMS only."""
    channel: Channel
    survey: SurveyScore | None = None
    if isinstance(item, InboundSMS):
        channel, key, raw, received_at = "sms", item.message_id, item.body, item.received_at
    elif isinstance(item, SurveyReply):
        channel, key, raw, received_at = "survey", item.response_id, item.comment, item.submitted_at
        survey = SurveyScore(kind=item.kind, score=item.score)
    else:
        raise TypeError(f"cannot normalize {type(item).__name__}")
    text, cut = clean_and_truncate(raw, max_text_chars)
    return Feedback(
        id=f"{channel}:{key}",
        channel=channel,
        brand=item.brand,
        customer_id=item.customer_id,
        received_at=received_at,
        text=text,
        survey=survey,
        # a truncated SMS is not a bare STOP, whatever its head says
        opt_out=channel == "sms" and not cut and is_opt_out(text),
        truncated=cut,
    )
