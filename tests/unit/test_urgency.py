"""urgency: explainable score, level floors, thresholds from config, priorities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.config import UrgencyConfig
from processors.urgency import (
    UrgencyInput,
    due_by,
    is_rant,
    level_for,
    ordinal,
    priority_for,
    score_urgency,
)
from schemas.records import SurveyScore

CFG = UrgencyConfig()
NEG = {"negative": 0.95, "neutral": 0.04, "positive": 0.01}
NEUTRAL = {"negative": 0.1, "neutral": 0.8, "positive": 0.1}
POS = {"negative": 0.02, "neutral": 0.08, "positive": 0.9}
ANGRY = {"anger": 0.8, "disgust": 0.05, "fear": 0.01, "joy": 0.0, "neutral": 0.1,
         "sadness": 0.03, "surprise": 0.01}
CALM = {"anger": 0.01, "disgust": 0.01, "fear": 0.01, "joy": 0.1, "neutral": 0.85,
        "sadness": 0.01, "surprise": 0.01}


def score(text: str, sentiment: dict[str, float] | None = NEUTRAL,
          emotion: dict[str, float] | None = CALM, **kw: object):  # type: ignore[no-untyped-def]
    return score_urgency(UrgencyInput(text=text, sentiment=sentiment, emotion=emotion, **kw), CFG)


def test_calm_is_low_with_no_reasons() -> None:
    u = score("could you tell me when my bill is due", POS)
    assert u.level == "low" and u.reasons == []


def test_architecture_example_is_critical_and_explained() -> None:
    u = score("You charged me twice. I'm cancelling.", NEG, ANGRY,
              survey=SurveyScore(kind="nps", score=2), recent_contacts=3)
    assert u.level == "critical" and u.score >= CFG.critical
    for reason in ("threatens to cancel or leave", "angry", "NPS detractor (2)",
                   "3rd contact in 7 days"):
        assert reason in u.reasons


@pytest.mark.parametrize("text", ["I can smell gas in the kitchen", "the charger caught fire",
                                  "your engineer left wires and my son was injured"])
def test_safety_is_always_critical(text: str) -> None:
    u = score(text, POS)
    assert u.level == "critical" and any(r.startswith("safety risk") for r in u.reasons)


@pytest.mark.parametrize("text", ["I'll be contacting the Ombudsman", "complaint to Ofcom",
                                  "my lawyer will hear about this", "see you at small claims"])
def test_legal_or_regulator_at_least_high(text: str) -> None:
    u = score(text)
    assert u.level in ("high", "critical")
    assert any("legal action or a regulator" in r for r in u.reasons)


def test_vulnerability_at_least_medium() -> None:
    u = score("my elderly mother has no phone line", NEUTRAL)
    assert u.level != "low" and any("vulnerable" in r for r in u.reasons)


@pytest.mark.parametrize(
    ("survey", "reason"),
    [(SurveyScore(kind="nps", score=0), "NPS detractor (0)"),
     (SurveyScore(kind="csat", score=1), "CSAT 1/5"),
     (SurveyScore(kind="ces", score=7), "CES 7/7: hard to get help")],
)
def test_survey_scores(survey: SurveyScore, reason: str) -> None:
    assert reason in score("", None, None, survey=survey).reasons


def test_good_survey_scores_add_nothing() -> None:
    for s in (SurveyScore(kind="nps", score=9), SurveyScore(kind="csat", score=4),
              SurveyScore(kind="ces", score=2)):
        assert score("", None, None, survey=s).reasons == []


def test_shouting_punctuation_and_repetition() -> None:
    u = score("WHY IS MY INTERNET DOWN AGAIN???")
    assert "SHOUTING (mostly capitals)" in u.reasons and "repeated !!!/???" in u.reasons
    u = score("refund refund refund now please")
    assert "repeats themselves" in u.reasons


def test_cues_raise_the_score_monotonically() -> None:
    base = score("my bill is wrong", NEG, ANGRY).score
    assert score("my bill is wrong, I'm cancelling", NEG, ANGRY).score > base
    assert score("my bill is wrong", NEG, ANGRY, recent_contacts=4).score > base


def test_opt_out_is_low() -> None:
    u = score("STOP", NEG, ANGRY, opt_out=True, recent_contacts=9)
    assert u.level == "low" and u.score == 0.0


def test_unsupported_language_reason() -> None:
    u = score("Je suis furieux", NEG, ANGRY, language="fr", language_supported=False)
    assert u.reasons[-1] == "language fr: models out of their depth"
    assert u.score < score("Je suis furieux", NEG, ANGRY).score


def test_thresholds_come_from_config() -> None:
    strict = UrgencyConfig(medium=0.1, high=0.2, critical=0.3, rant_level="critical")
    assert level_for(0.25, strict) == "high" and level_for(0.25, CFG) == "low"
    assert not is_rant("high", strict) and is_rant("high", CFG)


def test_priority_and_due_by() -> None:
    assert [priority_for(x) for x in ("critical", "high", "medium")] == ["P1", "P2", "P3"]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert due_by("P1", now, CFG) == now + timedelta(hours=4)
    assert due_by("P3", now, UrgencyConfig(followup_hours={"P3": 1})) == now + timedelta(hours=1)


def test_ordinal() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 103)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "103rd"]


@given(st.text(max_size=300), st.floats(0, 1), st.floats(0, 1), st.integers(0, 50))
def test_score_always_in_range(text: str, neg: float, anger: float, contacts: int) -> None:
    u = score(text, {"negative": neg, "neutral": 0.0, "positive": 1 - neg},
              {**CALM, "anger": anger}, recent_contacts=contacts)
    assert 0.0 <= u.score <= 1.0 and u.level == level_for(u.score, CFG)


def test_placeholders_are_not_shouting() -> None:
    u = score("call [PHONE] or [EMAIL] or [PHONE] ok")
    assert "SHOUTING (mostly capitals)" not in u.reasons and "repeats themselves" not in u.reasons


def test_cancel_request_vs_threat() -> None:
    polite = score("I want to cancel my contract please, how do I get my PAC code", NEG, ANGRY)
    assert "asks to cancel" in polite.reasons
    assert "threatens to cancel or leave" not in polite.reasons
    threat = score("Sort it out or I'm leaving. Switching to another provider", NEG, CALM)
    assert "threatens to cancel or leave" in threat.reasons
    assert threat.level in ("high", "critical")  # unhappy and leaving: a retention case


def test_repeated_problem() -> None:
    assert "repeated problem ('third time')" in score("third time my parcel is late").reasons
    assert "repeated problem ('5 times')" in score("I've called 5 times").reasons
    assert "problem happened again" in score("internet down again").reasons


def test_vulnerable_and_unhappy_is_high() -> None:
    u = score("my elderly mother has had no phone line for a week", NEG, CALM)
    assert u.level in ("high", "critical")


def test_negated_churn_is_not_a_threat() -> None:
    assert score("I don't want to cancel, I love your service!").reasons == []
    for history in ("You took £45 from my account after I cancelled the add-on",
                    "you cancelled my order without telling me",
                    "my delivery was cancelled twice"):
        assert "threatens to cancel or leave" not in score(history, NEG).reasons, history
    assert "threatens to cancel or leave" in score(
        "after you cancelled my order I'm cancelling everything", NEG).reasons
    assert "threatens to cancel or leave" in score("I have cancelled my contract", NEG).reasons
    for leaving in ("I'm switching to another provider", "Switching to Vodafone tomorrow",
                    "switching to a competitor", "time to switch to EE", "switch provider"):
        assert "threatens to cancel or leave" in score(leaving, NEG).reasons, leaving
    for staying in ("I am switching to paperless billing", "Can I switch to the cheaper plan?",
                    "switching to a new phone, will my SIM work?",
                    "I want to switch to monthly payments", "switch to Direct Debit please"):
        assert "threatens to cancel or leave" not in score(staying, NEG).reasons, staying
    assert "threatens to cancel or leave" in score("I want to leave you", NEG).reasons


def test_long_running_and_ignored() -> None:
    u = score("no broadband for 9 days, I have called every day", NEG, ANGRY)
    assert "long-running problem ('9 days')" in u.reasons
    assert "feels ignored ('called every day')" in u.reasons
    assert u.level in ("high", "critical")
