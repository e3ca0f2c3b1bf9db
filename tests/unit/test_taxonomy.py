"""taxonomy: YAML taxonomy validation, keyword + embedding matching, evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.normalize import clean_text
from processors.taxonomy import DEFAULT_TAXONOMY, SubjectMatcher, TaxonomyError, load_taxonomy
from tests.unit.fake_analyzer import FakeAnalyzer

DEFAULT_NAMES = {"billing", "delivery", "outage", "staff", "wait_time", "product", "digital",
                 "pricing", "cancellation"}


@pytest.fixture(scope="module")
def matcher() -> SubjectMatcher:
    return SubjectMatcher(load_taxonomy(), FakeAnalyzer())


def _emb(text: str) -> np.ndarray:
    return FakeAnalyzer().embed([text])[0]


def test_default_taxonomy_has_the_contract_topics() -> None:
    tax = load_taxonomy()
    assert set(tax.subjects) == DEFAULT_NAMES
    for t in tax.subjects.values():
        assert t.description and t.examples and t.keywords


def test_keyword_match_with_evidence_from_the_message(matcher: SubjectMatcher) -> None:
    text = "You CHARGED me twice and my parcel never arrived"
    tags = {t.name: t for t in matcher.match(text, _emb(text))}
    assert {"billing", "delivery"} <= set(tags)
    for t in tags.values():
        assert 0.0 <= t.confidence <= 1.0
        assert t.evidence and t.evidence.lower() in text.lower()
    assert tags["billing"].evidence.startswith("CHARGED")


def test_longest_keyword_wins(matcher: SubjectMatcher) -> None:
    tags = {t.name: t for t in matcher.match("no signal since Monday", None)}
    assert tags["outage"].evidence.startswith("no signal")


def test_embedding_only_match_uses_best_clause(tmp_path: Path) -> None:
    path = tmp_path / "tax.yaml"
    path.write_text(
        "topics:\n"
        "  roaming:\n"
        "    description: Using the phone abroad\n"
        "    examples: [data abroad in spain costs a fortune]\n"
    )
    m = SubjectMatcher(load_taxonomy(path), FakeAnalyzer())
    text = "Hello there. My data abroad in Spain costs a fortune"
    (tag,) = m.match(text, _emb(text))
    assert tag.name == "roaming" and tag.evidence == "My data abroad in Spain costs a fortune"
    assert m.match("totally unrelated words", _emb("totally unrelated words")) == []


def test_no_embedding_still_matches_keywords(matcher: SubjectMatcher) -> None:
    assert [t.name for t in matcher.match("the app keeps crashing")] == ["digital"]
    assert matcher.match("") == []


def test_user_taxonomy_replaces_default(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("topics:\n  parking:\n    description: Car park\n"
                    "    keywords: [car park, parking]\n    patterns: ['\\bP\\d\\b']\n")
    m = SubjectMatcher(load_taxonomy(path))
    assert [t.name for t in m.match("the car park was full")] == ["parking"]
    assert [t.evidence for t in m.match("level P3 closed")] == ["P3 closed"]


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [("topics: {}", "topics"),
     ("- just\n- a list\n", "mapping"),
     ("topics:\n  Bad Name:\n    description: x\n    keywords: [a]\n", "lower_snake_case"),
     ("topics:\n  a:\n    keywords: [x]\n", "topics.a.description"),
     ("topics:\n  a:\n    description: x\n", "needs examples"),
     ("topics:\n  a:\n    description: x\n    patterns: ['(']\n", "regular expression"),
     ("topics:\n  a:\n    description: x\n    keywrds: [y]\n", "keywrds"),
     ("topics: [unclosed", "not valid YAML")],
)
def test_bad_taxonomy_gives_clear_error(tmp_path: Path, yaml_text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "nope.yaml")
    assert DEFAULT_TAXONOMY.is_file()


def test_examples_embedded_once() -> None:
    fake = FakeAnalyzer()
    m = SubjectMatcher(load_taxonomy(), fake)
    for _ in range(3):
        m.match("my bill is wrong", _emb("my bill is wrong"))
    assert fake.embed_calls == 1


def test_evidence_is_always_verbatim(matcher: SubjectMatcher) -> None:
    texts = ["My bill, which arrived on Monday after a very long wait and lots of chasing "
             "with your team, is wrong by a mile", "The  app\tcrashes", "no signal. at all!"]
    for text in texts:
        for tag in matcher.match(text, _emb(text)):
            assert tag.evidence and tag.evidence in text, tag


_MATCHER = SubjectMatcher(load_taxonomy(), FakeAnalyzer())
_WORDS = st.sampled_from(["my", "bill", "was", "charged", "twice", "parcel", "never", "arrived",
                          "no", "signal", "app", "crashes", "engineer", "rude", "and", "but",
                          "!!!", ",", ".", "cancel", "switching", "to", "price", "rise", "😡"])


@given(st.lists(_WORDS, min_size=1, max_size=40))
def test_evidence_verbatim_property(words: list[str]) -> None:
    text = clean_text(" ".join(words))
    for tag in _MATCHER.match(text, _emb(text)):
        assert tag.evidence and tag.evidence in text
        assert 0.0 <= tag.confidence <= 1.0


def test_yaml_keeps_its_public_key_names(tmp_path: Path) -> None:
    """The file says ``topics:`` and ``max_topics`` (a user-facing format, docs/naming.md);
    the code reads them as subjects."""
    path = tmp_path / "two.yaml"
    path.write_text("matching: {max_topics: 1}\n"
                    "topics:\n  a: {description: x, keywords: [bill]}\n"
                    "  b: {description: y, keywords: [parcel]}\n")
    tax = load_taxonomy(path)
    assert set(tax.subjects) == {"a", "b"} and tax.matching.max_subjects == 1
    assert len(SubjectMatcher(tax).match("bill and parcel")) == 1
    path.write_text("subjects:\n  a: {description: x, keywords: [bill]}\n")
    with pytest.raises(TaxonomyError, match="topics"):
        load_taxonomy(path)
