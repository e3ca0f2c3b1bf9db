"""Vulnerability/harm cue lists (processors/cues.yaml), intensity, and urgency using them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from processors.config import UrgencyConfig
from processors.cues import CueFile, find_cues, load_cues
from processors.intensity import FEATURES, load_model, score_intensity
from processors.urgency import UrgencyInput, is_rant, score_urgency

CFG = UrgencyConfig()
ANGRY = {"negative": 0.99, "neutral": 0.005, "positive": 0.005}


def kinds(text: str) -> set[str]:
    return {h.id for h in find_cues(text) if h.group in ("vulnerability", "harm")}


@pytest.mark.parametrize("text", [
    "The gas has been cut off and we have a newborn baby, no heating at all",
    "Nos han cortado el gas y tengo un bebé de dos meses, estamos sin calefacción",
    "On nous a coupé le gaz, nous avons un nourrisson et n'avons plus de chauffage",
    "Die Heizung ist aus und wir haben ein Neugeborenes im Haus",
    "Ci hanno staccato il gas e abbiamo un neonato, siamo senza riscaldamento",
    "Cortaram o gás e tenho um bebé recém-nascido, estamos sem aquecimento",
    "Gas afgesloten en we hebben een pasgeboren baby, geen verwarming",
    "Odcięto nam gaz, a mamy w domu niemowlę i nie ma ogrzewania",
])
def test_a_baby_without_heating_is_found_in_every_language(text: str) -> None:
    assert {"dependant", "essential_service_loss"} <= kinds(text)


@pytest.mark.parametrize(("text", "kind"), [
    ("My dad is 91 and lives alone", "elderly"),
    ("She lives alone and is housebound", "isolated"),
    ("He is on oxygen at home", "medical"),
    ("There are 6 payments on my card I never made", "fraud"),
    ("Found a cockroach in my salad", "food_hygiene"),
    ("The engineer swore at me in my own kitchen", "staff_abuse"),
    ("I can smell gas outside the meter box", "safety"),
    ("I already closed my account last month and you still charge me", "already_left"),
    ("Ho trovato degli scarafaggi nella pasta", "food_hygiene"),
    ("Le conseiller m'a insulté au téléphone", "staff_abuse"),
])
def test_each_kind_fires(text: str, kind: str) -> None:
    assert kind in kinds(text)


def test_switching_to_paperless_is_not_leaving_and_a_power_cut_alone_is_no_harm() -> None:
    assert "already_left" not in kinds("I'm switching to paperless billing from next month")
    # essential_service_loss needs a vulnerable person: otherwise an outage, not a harm
    assert "essential_service_loss" not in kinds("No internet since this morning")


def test_reasons_are_plain_words_with_the_phrase() -> None:
    hit = next(h for h in find_cues("my baby has no heating") if h.id == "dependant")
    assert hit.explain() == "vulnerable: a baby, child or dependant is affected ('baby')"


def test_the_cue_file_is_validated(tmp_path: Path) -> None:
    good = {"id": "x", "group": "harm", "reason": "r", "patterns": {"en": ["abc"]}}
    CueFile.model_validate({"cues": [good]})
    for bad in ({**good, "patterns": {"xx": ["abc"]}},      # unknown language
                {**good, "patterns": {"en": ["(a+)+b"]}},   # nested quantifier
                {**good, "patterns": {"en": ["(unclosed"]}},
                {**good, "group": "nope"}):
        with pytest.raises(ValidationError):
            CueFile.model_validate({"cues": [bad]})
    with pytest.raises(ValidationError):
        CueFile.model_validate({"cues": [good, good]})  # duplicate id
    p = tmp_path / "cues.yaml"
    p.write_text("cues:\n  - id: pets\n    group: vulnerability\n    reason: 'has a pet'\n"
                 "    patterns: {en: ['my dog']}\n", encoding="utf-8")
    assert [h.id for h in find_cues("My dog is ill", load_cues(p))] == ["pets"]


def test_matching_stays_fast_on_hostile_text() -> None:
    text = ("a " * 20000) + "baby" + ("!" * 5000) + "x" * 20000
    t0 = time.perf_counter()
    find_cues(text)
    assert time.perf_counter() - t0 < 5.0  # a catastrophic regex would take minutes


def test_intensity_separates_a_hedge_from_a_harm_with_the_same_polarity() -> None:
    """The sentiment head says 0.99 negative for both; intensity must not."""
    assert load_model()  # the shipped file matches FEATURES
    assert len(FEATURES) == len(load_model().coef)
    mild = "Bit annoying that the app logs me out, not great"
    severe = "Found a dead mouse in the rice, absolutely disgusting!! Refund it now"
    i_mild = score_intensity(mild, ANGRY, None, find_cues(mild), english=True)
    i_severe = score_intensity(severe, ANGRY, None, find_cues(severe), english=True)
    assert 0.0 <= i_mild < CFG.upset_intensity + 0.25 and i_severe >= CFG.rant_intensity
    calm = "Thanks, all sorted now"
    happy = {"negative": 0.01, "neutral": 0.1, "positive": 0.89}
    assert score_intensity(calm, happy, None, [], english=True) < 0.2


def _urgency(text: str, intensity: float, sentiment: dict[str, float] = ANGRY) -> str:
    u = score_urgency(UrgencyInput(text=text, sentiment=sentiment, intensity=intensity,
                                   cues=tuple(find_cues(text))), CFG)
    return u.level


def test_urgency_uses_intensity_not_polarity() -> None:
    # saturated polarity, mild intensity: not a rant (it was one before)
    assert not is_rant(_urgency("Bit annoying, not impressed", 0.3), CFG)
    assert is_rant(_urgency("This is the worst service I have ever had", 0.8), CFG)
    # a calm vulnerable customer with a problem needs a person
    assert is_rant(_urgency("My mum is 87 and lives alone, her phone is dead", 0.5), CFG)
    # ... but a vulnerable person mentioned in a calm question does not
    assert not is_rant(_urgency("Can my mum, she's 87, join my plan?", 0.1), CFG)
    assert _urgency("Sparks coming from the meter", 0.4) == "critical"
    happy = {"negative": 0.02, "neutral": 0.08, "positive": 0.9}
    assert not is_rant(_urgency("Got my money back after the fraud, grateful", 0.05, happy), CFG)


def test_cue_reasons_reach_urgency_reasons() -> None:
    text = "Nos han cortado el gas y tengo un bebé de dos meses"
    u = score_urgency(UrgencyInput(text=text, intensity=0.8, cues=tuple(find_cues(text))), CFG)
    assert any(r.startswith("vulnerable: a baby") and "'bebé'" in r for r in u.reasons)
    assert any(r.startswith("harm: without an essential service") for r in u.reasons)
    assert "very upset (intensity 0.80)" in u.reasons
