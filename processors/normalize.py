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

_KEEP_FORMAT = {"\u200d"}  # zero-width joiner glues emoji sequences together
_WS = re.compile(r"\s+")
_PLAIN_ASCII = re.compile(r"[\x20-\x7e]*")
_LOOSE_ZWJ = re.compile(r"(?:^|(?<=\s))\u200d+|\u200d+(?=\s|$)")
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
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc":
            out.append(" " if ch in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85" else "")
        elif cat == "Cs" or (cat == "Cf" and ch not in _KEEP_FORMAT):
            continue
        elif cat in ("Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch)
    text = _WS.sub(" ", "".join(out)).strip()
    # a joiner only means something between two characters (emoji sequences)
    return _LOOSE_ZWJ.sub("", text).strip()


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
    (whitespace, controls), so a raw prefix of 4x the limit is enough in practice; the
    rest is cleaned only when the prefix cleans down to less than the limit.
    """
    window = 4 * max_chars
    if len(raw) > window:
        head = clean_text(raw[:window])
        if len(head) >= max_chars:
            return truncate(head, max_chars)[0], True
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
