"""The span type every detector yields (shadow coordinates)."""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    start: int
    end: int
    kind: str
