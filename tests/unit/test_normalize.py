"""normalize: one Feedback shape, clean unicode, opt-out keywords, truncation."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from processors.normalize import clean_and_truncate, clean_text, is_opt_out, normalize, truncate
from schemas.records import InboundSMS, SurveyReply


def _sms(body: str) -> InboundSMS:
    return InboundSMS.model_validate({
        "message_id": "SM1", "from": "+447700900999", "body": body,
        "received_at": "2026-11-25T18:00:00Z", "brand": "acme", "customer_id": "C1"})


def test_sms_maps_to_feedback() -> None:
    fb = normalize(_sms("  my   bill\nis\twrong  "))
    assert fb.id == "sms:SM1" and fb.channel == "sms" and fb.brand == "acme"
    assert fb.customer_id == "C1" and fb.text == "my bill is wrong"
    assert fb.survey is None and not fb.opt_out and not fb.truncated


def test_survey_maps_to_feedback_and_keeps_score() -> None:
    reply = SurveyReply.model_validate({
        "response_id": "R7", "survey_id": "S", "customer_id": "C9", "brand": "b",
        "submitted_at": "2026-11-25T17:00:00Z", "kind": "ces", "score": 7})
    fb = normalize(reply)
    assert fb.id == "survey:R7" and fb.channel == "survey" and fb.text == ""
    assert fb.received_at == reply.submitted_at
    assert fb.survey is not None and (fb.survey.kind, fb.survey.score) == ("ces", 7)


def test_unicode_is_normalised_and_emoji_kept() -> None:
    # full-width letters fold (NFKC); ZWJ family emoji and flags survive intact
    assert clean_text("ｂｉｌｌ 😡 👨\u200d👩\u200d👧 🇬🇧") == "bill 😡 👨\u200d👩\u200d👧 🇬🇧"


def test_controls_and_invisible_marks_removed() -> None:
    assert clean_text("a\x00b\x1b[31mc\u202e d\u200b\ufeffe") == "ab[31mc de"
    assert clean_text("\u200b\u200d\ufeff") == ""
    assert clean_text("bad \ud83d char") == "bad char"


def test_opt_out_keywords_whole_message_only() -> None:
    for text in ("STOP", "stop", " Stop. ", "UNSUBSCRIBE", "stopall", "Cancel", "END",
                 "quit!", "Opt out", "OPT-OUT"):
        assert is_opt_out(text), text
    for text in ("please don't stop my service", "I want to cancel my contract",
                 "stop charging me", "Stop texting me and refund the £40 you took twice!",
                 "why do you keep texting me when my broadband is down",
                 "remove me from the contract, it's a scam"):
        assert not is_opt_out(text), text


def test_plain_opt_out_requests() -> None:
    for text in ("Stop texting me", "stop texting me!!", "Unsubscribe please",
                 "please unsubscribe me", "Please remove me from your list.",
                 "remove my number", "take me off your list", "No more texts please",
                 "Don’t text me again", "do not contact me", "STOP SENDING ME MESSAGES",
                 "opt me out thanks"):
        assert is_opt_out(text), text
    assert normalize(_sms("STOP")).opt_out


def test_truncation_flagged_and_bounded() -> None:
    text, cut = truncate("word " * 100, 50)
    assert cut and len(text) <= 50 and not text.endswith(" ")
    assert truncate("short", 50) == ("short", False)
    fb = normalize(_sms("x" * 300), max_text_chars=100)
    assert fb.truncated and len(fb.text) == 100


@given(st.text())
def test_clean_text_is_idempotent_and_safe(text: str) -> None:
    out = clean_text(text)
    assert clean_text(out) == out
    assert out == out.strip()
    out.encode("utf-8")  # no lone surrogates left
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in out)
    assert "  " not in out


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_truncate_never_exceeds_limit(text: str, limit: int) -> None:
    out, cut = truncate(clean_text(text), limit)
    assert len(out) <= limit
    assert cut == (len(clean_text(text)) > limit)


@given(st.text(alphabet=st.sampled_from(["a", " ", "\u200b", "ﷺ", "\n", "é", "\x00", "😡"]),
               max_size=400), st.integers(min_value=1, max_value=60))
def test_clean_and_truncate_matches_the_slow_path(raw: str, limit: int) -> None:
    fast = clean_and_truncate(raw, limit)
    slow = truncate(clean_text(raw), limit)
    assert fast[1] == slow[1]
    assert fast[0] == slow[0] or (fast[1] and len(fast[0]) <= limit)
