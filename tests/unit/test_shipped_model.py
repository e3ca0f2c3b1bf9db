"""The shipped model (multilingual-e5-small, Latin vocabulary, with its heads, calibration
and intensity) on clear cases in several languages: what a new user sees first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.config import DEFAULT_ENCODER, EnrichConfig
from processors.pipeline import Enricher, EnrichResult
from schemas.records import InboundSMS

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher(EnrichConfig(), warm_language=False)


def run(enricher: Enricher, *texts: str) -> list[EnrichResult]:
    items = [InboundSMS.model_validate({"message_id": f"m{i}", "from": "+447700900000",
                                        "body": t, "received_at": NOW, "brand": "acme"})
             for i, t in enumerate(texts)]
    return enricher.enrich_batch(items, None, NOW)


def test_the_default_is_the_multilingual_encoder(enricher: Enricher) -> None:
    (res,) = run(enricher, "thanks")
    assert res.feedback.model.encoder == DEFAULT_ENCODER == enricher.analyzer.name
    assert "-e5-" in res.feedback.model.version


@pytest.mark.parametrize(("text", "language", "sentiment"), [
    ("Vale, gracias", "es", "neutral"),
    ("Merci beaucoup, super service !", "fr", "positive"),
    ("Ik ben woedend, al drie keer te veel betaald!!", "nl", "negative"),
    ("Brak internetu od trzech dni, to skandal", "pl", "negative"),
    ("Consegna velocissima, bravi!", "it", "positive"),
])
def test_other_languages_are_read_not_flagged(enricher: Enricher, text: str, language: str,
                                              sentiment: str) -> None:
    (res,) = run(enricher, text)
    fb = res.feedback
    assert (fb.language, fb.language_supported, fb.sentiment.label) == (language, True, sentiment)
    assert not any(r.startswith("language") for r in fb.urgency.reasons)


def test_intensity_orders_mild_below_furious(enricher: Enricher) -> None:
    mild, furious, calm = run(enricher, "bit annoying that the app logged me out again",
                              "THIRD time you've cut my internet this month. Useless!!",
                              "Can I change my payment date to the 5th?")
    assert calm.feedback.intensity < mild.feedback.intensity < furious.feedback.intensity
    assert not mild.feedback.is_rant and furious.feedback.is_rant


def test_vulnerability_and_harm_are_reasons_in_plain_words(enricher: Enricher) -> None:
    (baby,) = run(enricher, "Gas cut off and I have a 3 month old baby in the house, freezing")
    reasons = baby.feedback.urgency.reasons
    assert baby.feedback.is_rant
    assert any(r.startswith("vulnerable: a baby, child or dependant") for r in reasons)
    assert any(r.startswith("harm: without an essential service") for r in reasons)
    assert not any("lives alone or is cut off" in r for r in reasons)  # gas "cut off"


def test_harm_without_a_cue_phrase_is_read_from_the_meaning(enricher: Enricher) -> None:
    """No phrase of processors/cues.yaml fires; the calibration's harm layer names the kind."""
    fraud, abuse = run(enricher, "Somebody has been using my card in shops I've never been to",
                       "The delivery driver shouted abuse at me on my doorstep")
    for res, kind in ((fraud, "harm: payments or orders the customer did not make"),
                      (abuse, "harm: staff swore at or abused the customer")):
        assert res.feedback.is_rant
        tail = "(from what the message says, no cue phrase)"
        assert any(r.startswith(kind) and r.endswith(tail) for r in res.feedback.urgency.reasons)
