"""TEST DOUBLE: a tiny deterministic TextAnalyzer for unit tests of the pure steps.

Not a model: a hashed bag of words for the embedding (so texts sharing words are
similar) and a small word list for sentiment/emotion. It lets the processors'
logic be tested in microseconds; the real encoder is exercised in the tests that
say so.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from processors.types import TextSignals
from schemas.labels import EMOTION_LABELS

DIM = 256
_NEG = {"twice", "wrong", "late", "never", "worst", "rude", "angry", "hate", "useless",
        "cancel", "cancelling", "broken", "terrible", "awful", "disgusting", "furious"}
_POS = {"love", "great", "thanks", "thank", "brilliant", "happy", "excellent", "good"}
_ANGER = {"furious", "angry", "hate", "useless", "worst", "ridiculous", "twice", "rude"}
_FEAR = {"worried", "scared", "afraid", "gas", "fire", "leak"}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


class FakeAnalyzer:
    """Counts its calls so tests can check one analyze() per batch."""

    name = "fake-bag-of-words"
    version = "test"

    def __init__(self) -> None:
        self.analyze_calls: list[int] = []
        self.embed_calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embed_calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in _words(t):
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % DIM] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out

    def analyze(self, texts: Sequence[str]) -> list[TextSignals]:
        self.analyze_calls.append(len(texts))
        emb = self.embed(texts)
        self.embed_calls -= 1
        res = []
        for i, t in enumerate(texts):
            ws = set(_words(t))
            neg, pos = len(ws & _NEG), len(ws & _POS)
            if neg > pos:
                sent = {"negative": 0.9, "neutral": 0.07, "positive": 0.03}
            elif pos > neg:
                sent = {"negative": 0.03, "neutral": 0.07, "positive": 0.9}
            else:
                sent = {"negative": 0.1, "neutral": 0.8, "positive": 0.1}
            emo = dict.fromkeys(EMOTION_LABELS, 0.02)
            if ws & _ANGER:
                emo["anger"] = 0.8
            elif ws & _FEAR:
                emo["fear"] = 0.8
            elif pos > neg:
                emo["joy"] = 0.8
            else:
                emo["neutral"] = 0.8
            res.append(TextSignals(embedding=emb[i], sentiment=sent, emotion=emo))
        return res
