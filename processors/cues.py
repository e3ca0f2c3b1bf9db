"""Vulnerability, harm and intensity cues from ``processors/cues.yaml``: explainable lists.

Why a YAML file: who is vulnerable and what counts as harm are policy, edited by the people
who run customer care, not by whoever retrains a model. The file is validated once
(pydantic: known groups and languages, patterns that compile, no nested quantifiers so that
matching stays linear in the text) and each cue's patterns, across all the languages, are
compiled into one case-insensitive regex anchored at word starts: language detection on a
short SMS can be wrong, and a cue phrase in one language rarely means something else in
another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from processors.language import LANGUAGES

CUES_PATH = Path(__file__).resolve().parent / "cues.yaml"

CueGroup = Literal["vulnerability", "harm", "intensity_up", "hedge"]

# a group that is quantified and itself holds a quantifier: "(a+)+", "(\w*\s?)*"
_NESTED = re.compile(r"\([^()]*[+*}][^()]*\)\s*[+*{]")


class CueSpec(BaseModel):
    """One cue as written in the YAML."""

    model_config = ConfigDict(extra="forbid")

    id: str
    group: CueGroup
    reason: str
    needs: Literal["vulnerability"] | None = None
    patterns: dict[str, list[str]]

    @field_validator("patterns")
    @classmethod
    def _check_patterns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(v) - set(LANGUAGES)
        if unknown:
            raise ValueError(f"unknown languages {sorted(unknown)}; use {list(LANGUAGES)}")
        for lang, pats in v.items():
            for pat in pats:
                if _NESTED.search(pat):
                    raise ValueError(f"{lang}: nested quantifier (not linear-time): {pat!r}")
                try:
                    re.compile(pat)
                except re.error as e:
                    raise ValueError(f"{lang}: bad regex {pat!r}: {e}") from e
        return v


class CueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cues: list[CueSpec]

    @model_validator(mode="after")
    def _unique_ids(self) -> CueFile:
        ids = [c.id for c in self.cues]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate cue ids: {sorted(dupes)}")
        return self


@dataclass(frozen=True)
class Cue:
    id: str
    group: CueGroup
    reason: str
    needs: str | None
    rx: re.Pattern[str]


@dataclass(frozen=True)
class CueHit:
    """A cue that fired and the phrase that fired it (``evidence`` is from the message)."""

    id: str
    group: CueGroup
    reason: str
    evidence: str

    def explain(self) -> str:
        if not self.evidence:  # read from the whole message by a model (calibration.py)
            return f"{self.reason} (from what the message says, no cue phrase)"
        return f"{self.reason} ('{self.evidence}')"


def compile_cues(spec: CueFile) -> tuple[Cue, ...]:
    out = []
    for c in spec.cues:
        pats = [p for pats in c.patterns.values() for p in pats]
        rx = re.compile(r"(?<![\w])(?:" + "|".join(pats) + r")", re.IGNORECASE)
        out.append(Cue(c.id, c.group, c.reason, c.needs, rx))
    return tuple(out)


def load_cues(path: Path | None = None) -> tuple[Cue, ...]:
    """Validate and compile a cue file (``processors/cues.yaml`` by default)."""
    raw = yaml.safe_load((path or CUES_PATH).read_text(encoding="utf-8"))
    return compile_cues(CueFile.model_validate(raw))


@lru_cache(maxsize=1)
def default_cues() -> tuple[Cue, ...]:
    """The shipped cue file, loaded once per process."""
    return load_cues()


def find_cues(text: str, cues: tuple[Cue, ...] | None = None) -> list[CueHit]:
    """Every cue that fires in ``text``, in file order (one hit per cue: the first phrase)."""
    hits: list[CueHit] = []
    for c in cues if cues is not None else default_cues():
        m = c.rx.search(text)
        if m:
            hits.append(CueHit(c.id, c.group, c.reason, m.group(0).strip().lower()))
    if not any(h.group == "vulnerability" for h in hits):
        needing = {c.id for c in (cues or default_cues()) if c.needs == "vulnerability"}
        hits = [h for h in hits if h.id not in needing]
    return hits
