"""Interfaces between the enrichment steps (kept apart from their implementations)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class TextSignals:
    """What the shared encoder and its heads say about one text."""

    embedding: np.ndarray  # L2-normalised sentence embedding
    sentiment: dict[str, float]  # probability per schemas.records.SENTIMENT_LABELS
    emotion: dict[str, float]  # probability per schemas.records.EMOTION_LABELS


class TextAnalyzer(Protocol):
    """One encoder forward per batch, shared by every head."""

    name: str
    version: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings, shape (len(texts), dim)."""
        ...

    def analyze(self, texts: Sequence[str]) -> list[TextSignals]:
        """Embeddings plus head probabilities, in input order."""
        ...
