"""Multi-label subject tagging from a user-replaceable YAML taxonomy.

A *subject* is one entry of the taxonomy (billing, delivery, ...); the word "topic" is kept
for Kafka topics (see docs/naming.md). The YAML file and the wire record still call the
entries ``topics``: those names are public contracts.

Two signals per subject, combined into one confidence in [0, 1]:

* keywords / regular expressions: precise, and their matched span is the
  ``evidence`` (a phrase taken from the message);
* embedding similarity between the message and the subject's example phrases:
  catches paraphrases with no keyword. The example embeddings are computed once
  when the matcher is built; the message embedding is the one the encoder
  already produced for the heads, so tagging costs no extra encoder pass. The
  evidence for an embedding-only match is the clause sharing most words with
  the subject's examples and description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from processors.calibration import TopicHead
from processors.types import TextAnalyzer
from schemas.errors import describe_validation_error
from schemas.records import Subject

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_WORD = re.compile(r"[a-z0-9']+")
_CLAUSE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s+(?:but|and then|because|although)\s+|,\s+")
_CONJUNCTIONS = frozenset({"and", "but", "or", "so", "because", "then", "although", "if"})
_STOP = frozenset(
    str.split(
        "a an the i me my we our you your it is was are be been to of in on for and or but at "
        "with this that have has had not no do did does so just all any can very"
    )
)


class TaxonomyError(ValueError):
    """The taxonomy file is missing, not YAML, or does not match the expected shape."""


class MatchingConfig(BaseModel):
    """How similarity and keyword hits become a confidence (tunable in the YAML)."""

    model_config = ConfigDict(extra="forbid")

    similarity_floor: float = Field(0.30, ge=-1.0, le=1.0)
    similarity_full: float = Field(0.70, ge=-1.0, le=1.0)
    min_confidence: float = Field(0.45, ge=0.0, le=1.0)
    keyword_confidence: float = Field(0.75, ge=0.0, le=1.0)
    max_subjects: int = Field(4, ge=1, le=50, alias="max_topics")


class SubjectDef(BaseModel):
    """One subject: what it means, what customers say, and words that give it away."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    #: phrases that mean it is NOT this subject ("paperless billing" for cancellation): one
    #: within a few words of a keyword hit cancels the hit; anywhere, it cancels a
    #: meaning-only match
    negatives: list[str] = Field(default_factory=list, alias="not")

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"pattern {p!r} is not a valid regular expression: {e}") from e
        return v

    @field_validator("keywords", "examples", "negatives")
    @classmethod
    def _non_blank(cls, v: list[str]) -> list[str]:
        items = [str(x).strip() for x in v]
        if any(not x for x in items):
            raise ValueError("must not contain empty strings")
        return items


class Taxonomy(BaseModel):
    """The whole YAML file."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    subjects: dict[str, SubjectDef] = Field(min_length=1, alias="topics")

    @field_validator("subjects")
    @classmethod
    def _names(cls, v: dict[str, SubjectDef]) -> dict[str, SubjectDef]:
        for name, subject in v.items():
            if not _NAME.match(name):
                raise ValueError(f"topic name {name!r} must be lower_snake_case")
            if not (subject.examples or subject.keywords or subject.patterns):
                raise ValueError(f"topic {name!r} needs examples, keywords or patterns")
        return v


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read and validate a taxonomy file; errors name the file and the bad fields."""
    path = Path(path) if path else DEFAULT_TAXONOMY
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TaxonomyError(f"taxonomy {path}: cannot read: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise TaxonomyError(f"taxonomy {path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise TaxonomyError(f"taxonomy {path}: expected a mapping with a 'topics' key")
    try:
        return Taxonomy.model_validate(raw)
    except ValidationError as e:
        problems = describe_validation_error(e, top="(top)")
        raise TaxonomyError(f"taxonomy {path}: {problems}") from e


_TOKEN = re.compile(r"[\w']+")
_SUFFIXES = ("ing", "es", "ed", "s", "d")


def _keyword_tokens(keyword: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(keyword.lower()))


def _inflections(word: str) -> set[str]:
    """The word with the plural/-ed/-ing endings a keyword accepts."""
    return {word, *(word + suf for suf in _SUFFIXES)}


@dataclass
class _Compiled:
    name: str
    patterns: re.Pattern[str] | None
    vocab: frozenset[str]
    negatives: tuple[tuple[str, ...], ...] = ()


_NEGATIVE_WINDOW = 4  # words between a keyword hit and a negative phrase that still cancel it


def _phrase_starts(words: list[str], toks: tuple[str, ...]) -> list[int]:
    """Token indices where ``toks`` occurs (last word with plural/-ed/-ing endings)."""
    n = len(toks)
    return [i for i in range(len(words) - n + 1)
            if words[i:i + n - 1] == list(toks[:-1]) and words[i + n - 1] in _inflections(toks[-1])]


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    phrase: str


def split_clauses(text: str) -> list[str]:
    """Rough clauses: sentence ends, commas and a few conjunctions."""
    return [c.strip(" ,.;") for c in _CLAUSE_SPLIT.split(text) if c and c.strip(" ,.;")]


class SubjectMatcher:
    """Tags a message with subjects; built once per process (embeds the examples once).

    Keywords are matched on word tokens through an index (one dict lookup per
    token, not one regex per keyword), the last word of a keyword accepting
    plural/-ed/-ing endings; all example similarities are one matrix product.
    """

    def __init__(self, taxonomy: Taxonomy, analyzer: TextAnalyzer | None = None,
                 heads: Mapping[str, TopicHead] | None = None,
                 similarity_map: tuple[float, float] | None = None) -> None:
        """``heads``: per-subject heads fitted on the customer set (processors/calibration.py);
        a subject without one is tagged by keywords and example similarity alone.
        ``similarity_map`` (slope, intercept) turns this encoder's cosine into the scale the
        YAML's ``similarity_floor`` / ``similarity_full`` are written in (all-MiniLM-L6-v2's:
        e5's cosines crowd into 0.7-0.95), fitted with the calibration."""
        self.taxonomy = taxonomy
        self._heads = dict(heads or {})
        self._similarity_map = similarity_map or (1.0, 0.0)
        self.matching = taxonomy.matching
        names = list(taxonomy.subjects)
        all_examples = [ex for t in taxonomy.subjects.values() for ex in t.examples]
        self._examples: np.ndarray | None = (
            np.asarray(analyzer.embed(all_examples), dtype=np.float32)
            if analyzer is not None and all_examples
            else None
        )
        # subject index of each example row, for a per-subject max after one product
        self._example_subject = np.array(
            [i for i, n in enumerate(names) for _ in taxonomy.subjects[n].examples], dtype=np.int64
        )
        # first keyword token -> [(keyword tokens, subject index)], longest keyword first
        self._index: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        self._subjects: list[_Compiled] = []
        for ti, name in enumerate(names):
            t = taxonomy.subjects[name]
            for kw in t.keywords:
                toks = _keyword_tokens(kw)
                if not toks:
                    continue
                # a one-word keyword is indexed with its endings: one lookup per token
                firsts = _inflections(toks[0]) if len(toks) == 1 else {toks[0]}
                for first in firsts:
                    self._index.setdefault(first, []).append((toks, ti))
            patterns = (
                re.compile("|".join(f"(?:{p})" for p in t.patterns), re.I) if t.patterns else None
            )
            vocab = frozenset(
                w
                for phrase in [t.description, *t.examples, *t.keywords]
                for w in _WORD.findall(phrase.lower())
                if w not in _STOP and len(w) > 2
            )
            negatives = tuple(toks for toks in map(_keyword_tokens, t.negatives) if toks)
            self._subjects.append(_Compiled(name, patterns, vocab, negatives))
        for entries in self._index.values():
            entries.sort(key=lambda e: -len(e[0]))

    @property
    def names(self) -> list[str]:
        return [t.name for t in self._subjects]

    def _similarity_confidence(self, cosine: float) -> float:
        sim = self._similarity_map[0] * cosine + self._similarity_map[1]
        lo, hi = self.matching.similarity_floor, self.matching.similarity_full
        if hi <= lo:
            return 1.0 if sim >= hi else 0.0
        return min(1.0, max(0.0, (sim - lo) / (hi - lo)))

    def _best_clause(self, text: str, vocab: frozenset[str]) -> str:
        clauses = split_clauses(text) or [text]
        scored = [
            (sum(w in vocab for w in _WORD.findall(c.lower())), -i, c)
            for i, c in enumerate(clauses)
        ]
        best = max(scored)
        return _shorten(best[2])

    def _keyword_hits(self, text: str) -> dict[int, _Hit]:
        """First (leftmost, then longest) keyword hit per subject index."""
        tokens = [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN.finditer(text)]
        words = [t[2] for t in tokens]
        hits: dict[int, _Hit] = {}
        for i, word in enumerate(words):
            for toks, ti in self._index.get(word, ()):
                if ti in hits:
                    continue
                n = len(toks)
                if n > 1 and not (
                    i + n <= len(words)
                    and words[i + 1 : i + n - 1] == list(toks[1:-1])
                    and words[i + n - 1] in _inflections(toks[-1])
                ):
                    continue
                start, end = tokens[i][0], tokens[i + n - 1][1]
                hits[ti] = _Hit(start, end, text[start:end])
        for ti, t in enumerate(self._subjects):
            if ti not in hits and t.patterns is not None:
                m = t.patterns.search(text)
                if m and m.group(0).strip():
                    hits[ti] = _Hit(m.start(), m.end(), m.group(0).strip())
        return hits

    def _negated(self, text: str, hits: dict[int, _Hit]) -> set[int]:
        """Subjects whose negative phrase is near their keyword hit, or present with none."""
        if not any(t.negatives for t in self._subjects):
            return set()
        tokens = [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN.finditer(text)]
        words = [w for _, _, w in tokens]
        out: set[int] = set()
        for ti, t in enumerate(self._subjects):
            starts = [i for toks in t.negatives for i in _phrase_starts(words, toks)]
            if not starts:
                continue
            hit = hits.get(ti)
            if hit is None:
                out.add(ti)
                continue
            first = next((i for i, tok in enumerate(tokens) if tok[1] > hit.start), 0)
            last = max((i for i, tok in enumerate(tokens) if tok[0] < hit.end), default=first)
            if any(first - _NEGATIVE_WINDOW <= i <= last + _NEGATIVE_WINDOW for i in starts):
                out.add(ti)
        return out

    def match(self, text: str, embedding: np.ndarray | None = None) -> list[Subject]:
        """Subjects of one (redacted) message, most confident first."""
        if not text.strip():
            return []
        emb_conf = [0.0] * len(self._subjects)
        best = np.full(len(self._subjects), -1.0, dtype=np.float32)
        emb: np.ndarray | None = None
        if embedding is not None and self._examples is not None:
            emb = np.asarray(embedding, dtype=np.float32).ravel()
            if self._examples.shape[1] == emb.shape[0]:
                np.maximum.at(best, self._example_subject, self._examples @ emb)
                emb_conf = [self._similarity_confidence(float(x)) for x in best]
            else:
                emb = None
        hits = self._keyword_hits(text)
        negated = self._negated(text, hits)
        base = self.matching.keyword_confidence
        tags: list[Subject] = []
        for ti, t in enumerate(self._subjects):
            if ti in negated:
                continue
            hit = hits.get(ti)
            head = self._heads.get(t.name) if emb is not None else None
            if head is not None and emb is not None and head.weight.shape[0] == emb.shape[0] + 2:
                # meaning: the fitted head decides; a keyword hit still always tags
                p = head.prob(emb, float(best[ti]), hit is not None)
                if hit:
                    conf = base + (1.0 - base) * max(emb_conf[ti], p)
                elif p >= head.threshold:
                    conf = p
                else:
                    continue
            else:
                conf = base + (1.0 - base) * emb_conf[ti] if hit else emb_conf[ti]
                if conf < self.matching.min_confidence:
                    continue
            evidence = _evidence_around(text, hit) if hit else self._best_clause(text, t.vocab)
            tags.append(Subject(name=t.name, confidence=round(conf, 4), evidence=evidence))
        tags.sort(key=lambda tag: (-tag.confidence, tag.name))
        return tags[: self.matching.max_subjects]


def _evidence_around(text: str, hit: _Hit) -> str:
    """The matched phrase; a lone keyword gets up to two following words of its clause."""
    phrase = hit.phrase.strip()
    if " " in phrase:
        return phrase
    tail = re.match(r"(?:[ ]+[\w'’£$€%-]+){0,2}", text[hit.end:])
    words = tail.group(0).split() if tail else []
    for i, w in enumerate(words):
        if w.lower() in _CONJUNCTIONS:
            words = words[:i]
            break
    return " ".join([phrase, *words])


def _shorten(clause: str, max_words: int = 12) -> str:
    """The first ``max_words`` words, still a verbatim substring of the message."""
    m = re.match(rf"\s*(?:\S+\s+){{0,{max_words - 1}}}\S+", clause)
    return m.group(0).strip() if m else clause.strip()
