"""reply: deterministic active-listening opener in the customer's words; case summary."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.reply import NO_CAUSE, pick_cause, suggest_reply, summarize
from schemas.records import Subject


def tag(name: str, evidence: str) -> Subject:
    return Subject(name=name, confidence=0.9, evidence=evidence)


def test_names_feeling_and_cause_with_pronouns_turned() -> None:
    reply = suggest_reply("You charged me twice for one order!!! Sort it out.", "anger",
                          [tag("billing", "charged me twice")])
    assert reply == ("I can hear how frustrating it is that we charged you twice for one "
                     "order — I'm sorry. Let's put this right.")


def test_feeling_follows_emotion() -> None:
    text = "I smell burning from the router you sent"
    assert suggest_reply(text, "fear", []).startswith("I understand how worrying it is that")
    assert "you smell burning from the router we sent" in suggest_reply(text, "fear", [])
    assert suggest_reply(text, "sadness", []).startswith("I'm sorry, it sounds really")


def test_closing_continues_the_sentence_after_the_dash() -> None:
    text = "You cut off my gas with a baby in the house"
    assert suggest_reply(text, "fear", []) == (
        "I understand how worrying it is that we cut off your gas with a baby in the house"
        " — let's sort this out together.")
    assert suggest_reply(text, "sadness", []).endswith(" — let's see what we can do.")


def test_prefers_topic_evidence_clause() -> None:
    text = "Hi there. The engineer never turned up, and I took a day off work."
    assert pick_cause(text, [tag("staff", "engineer")]) == ("The engineer never turned up", False)


def test_no_pii_placeholders_or_swearing_echoed() -> None:
    reply = suggest_reply("call me on [PHONE]. this fucking router is broken AGAIN", "anger", [])
    assert "[" not in reply and "fucking" not in reply
    assert "this router is broken again" in reply


def test_shouting_is_not_shouted_back() -> None:
    reply = suggest_reply("YOUR APP HAS BEEN DOWN FOR TWO DAYS", "anger", [])
    assert "our app has been down for two days" in reply


def test_nothing_quotable_gives_generic_opener() -> None:
    assert suggest_reply("!!!", "anger", []) == NO_CAUSE
    assert suggest_reply("", "anger", []) == NO_CAUSE


def test_summary() -> None:
    s = summarize("sms", "anger", [tag("billing", "x"), tag("cancellation", "y")],
                  ["threatens to cancel or leave", "angry"], "P1")
    assert s == ("P1: Angry SMS about billing, cancellation — threatens to cancel or leave; "
                 "angry")


@given(st.text(max_size=300), st.sampled_from(["anger", "disgust", "fear", "sadness",
                                                "neutral", "joy", "surprise"]))
def test_deterministic_and_never_raises(text: str, emotion: str) -> None:
    a = suggest_reply(text, emotion, [])
    assert a == suggest_reply(text, emotion, []) and a


def test_questions_are_reported_not_echoed() -> None:
    assert "you're asking why your internet is down again." in suggest_reply(
        "why is my internet down AGAIN?", "anger", [])
    assert "you're asking how come we charged you twice." in suggest_reply(
        "How come you charged me twice?", "anger", [])
    assert "you're asking why new customers get a better deal than you" in suggest_reply(
        "Why do new customers get a better deal than me?", "disgust", [])
    assert suggest_reply("Is anyone going to fix this?", "anger", []) == NO_CAUSE


def test_insults_are_not_quoted_back() -> None:
    reply = suggest_reply("why are you so useless? my router is dead", "anger", [])
    assert "useless" not in reply and "your router is dead" in reply
    assert suggest_reply("you are a bunch of clowns", "anger", []) == NO_CAUSE


def test_no_quote_when_not_english() -> None:
    assert suggest_reply("Sie haben mir zweimal berechnet", "anger", [], quote=False) == NO_CAUSE


@pytest.mark.parametrize(("text", "quoted"), [
    # "you" as an object becomes "us", as a subject "we"
    ("I have called you FIVE times about order 123.",
     "that you have called us five times about order 123"),
    ("The refund you promised in October still hasn't arrived",
     "that the refund we promised in October still hasn't arrived"),
    ("Since I moved you have charged me twice", "that since you moved we have charged you twice"),
    # a dropped subject is put back
    ("Been on hold two hours, ridiculous", "that you've been on hold two hours"),
    ("Still waiting for a callback promised five days ago",
     "that you're still waiting for a callback"),
    ("Overcharged for October. I want a refund", "that you were overcharged for October"),
])
def test_quoted_cause_reads_as_a_sentence(text: str, quoted: str) -> None:
    assert quoted in suggest_reply(text, "anger", [])


def test_demands_are_not_quoted_as_the_cause() -> None:
    assert suggest_reply("Please cancel my broadband from the end of October", "anger",
                         []) == NO_CAUSE
    reply = suggest_reply("Stop taking money I don't owe you!!! My rent bounced because of it",
                          "anger", [])
    assert "stop taking" not in reply.lower() and "your rent bounced" in reply


def test_fragment_follows_a_colon() -> None:
    assert suggest_reply("No mobile signal at all since yesterday", "fear", []) == (
        "I understand how worrying it is: no mobile signal at all since yesterday"
        " — let's sort this out together.")
    assert "how let down you feel: wrong item delivered —" in suggest_reply(
        "Wrong item delivered, I ordered the 128GB model", "disgust", [])


def test_reply_is_plain_text_without_markup() -> None:
    from processors.reply import plain_text

    text = ("<b>you charged me twice</b> <script>alert(1)</script> for my bill "
            "<img src=x onerror=alert(1)> &lt;again&gt; <!-- hidden -->")
    reply = suggest_reply(text, "anger", [])
    assert "<" not in reply and ">" not in reply and "alert" not in reply
    assert "&" not in reply and "hidden" not in reply
    assert plain_text("x <!-- unclosed y") == "x"
    assert plain_text("5 < 6 and <B>bold</B>") == "5 6 and bold"
