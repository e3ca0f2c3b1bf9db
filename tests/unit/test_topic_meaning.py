"""Topics by meaning (fitted heads + example prototypes), negative phrases, and the
customer-domain emotion layer - with the real shipped encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.calibration import DEFAULT_CALIBRATION, Calibration
from processors.config import DEFAULT_ENCODER, EnrichConfig
from processors.model_files import calibration_file
from processors.pipeline import Enricher
from processors.taxonomy import DEFAULT_TAXONOMY, SubjectMatcher, load_taxonomy
from schemas.labels import EMOTION_LABELS


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher(EnrichConfig(), warm_language=False)


def _topics(e: Enricher, matcher: SubjectMatcher, text: str) -> dict[str, str]:
    (sig,) = e.analyzer.analyze([text])
    return {t.name: t.evidence for t in matcher.match(text, sig.embedding)}


def test_shipped_calibration_applies_to_shipped_heads(enricher: Enricher) -> None:
    path = calibration_file(DEFAULT_ENCODER)
    cal = Calibration.load(path)
    assert cal is not None and path.is_file() and DEFAULT_CALIBRATION.is_file()
    assert cal.similarity_map is not None  # e5's cosine, in the YAML's scale
    assert enricher.calibration is not None
    assert cal.heads_version == enricher.analyzer.version
    assert set(cal.topics) <= set(enricher.subjects.names)


def test_paperless_billing_is_not_cancellation(enricher: Enricher) -> None:
    for text in ("I'm switching to paperless billing", "switching to paper-free bills please"):
        tags = _topics(enricher, enricher.subjects, text)
        assert "cancellation" not in tags and "billing" in tags
    assert "cancellation" in _topics(enricher, enricher.subjects,
                                     "I'm switching to another provider")


def test_negative_phrase_far_from_the_keyword_does_not_cancel(enricher: Enricher) -> None:
    text = "I want to cancel my contract today. Last year I went paperless"
    assert "cancellation" in _topics(enricher, enricher.subjects, text)


def test_meaning_match_without_keyword_has_verbatim_evidence(enricher: Enricher) -> None:
    text = "The lady on the phone was lovely and sorted everything."
    tags = _topics(enricher, enricher.subjects, text)
    assert "staff" in tags  # no staff keyword in the text
    assert tags["staff"] in text


def test_new_topic_from_description_and_five_examples_needs_no_retraining(
        enricher: Enricher, tmp_path: Path) -> None:
    """A user's YAML: the shipped topics plus a new one with a description and five
    examples and no keyword that occurs in the messages below."""
    shipped = DEFAULT_TAXONOMY
    text = shipped.read_text(encoding="utf-8") + (
        "  roaming:\n"
        "    description: Using a mobile phone abroad, roaming charges and data overseas\n"
        "    examples:\n"
        "      - my phone does not work abroad\n"
        "      - roaming charges in Spain were huge\n"
        "      - no data while on holiday in France\n"
        "      - can I use my allowance in Europe\n"
        "      - charged for using the internet overseas\n"
        "    keywords: [roaming]\n")
    path = tmp_path / "tax.yaml"
    path.write_text(text, encoding="utf-8")
    cal = enricher.calibration
    assert cal is not None and "roaming" not in cal.topics  # nothing fitted for it
    m = SubjectMatcher(load_taxonomy(path), enricher.analyzer, cal.topics, cal.similarity_map)
    msg = "My mobile data stopped working as soon as I landed in Italy on holiday"
    tags = _topics(enricher, m, msg)
    assert "roaming" in tags and tags["roaming"] in msg
    assert "roaming" not in _topics(enricher, m, "my parcel never arrived")


def test_emotion_layer_reads_customer_anger(enricher: Enricher) -> None:
    cal = enricher.calibration
    assert cal is not None
    texts = ["This is the third time you have cut me off, absolutely disgraceful service",
             "Ok thanks, received"]
    got = []
    for sig in ( enricher.analyzer.analyze(texts)):
        probs = cal.emotion(sig.emotion, sig.embedding)
        assert set(probs) == set(EMOTION_LABELS)
        assert abs(sum(probs.values()) - 1.0) < 1e-5
        got.append(max(probs, key=probs.__getitem__))
    assert got == ["anger", "neutral"]


def test_calibration_ignored_for_other_heads(tmp_path: Path) -> None:
    cal = Calibration.load()
    assert cal is not None
    assert not cal.fits("some-other-heads", cal.dim)
    assert not cal.fits(cal.heads_version, cal.dim + 1)
    assert Calibration.load(tmp_path / "absent.json") is None
    head = next(iter(cal.topics.values()))
    p = head.prob(np.zeros(cal.dim, np.float32), 0.0, False)
    assert 0.0 < p < 1.0
