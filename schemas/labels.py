"""The sentiment and emotion label sets: their one definition.

Why a module of its own: the labels are part of the wire contract (``schemas.records``),
the order the model heads output (checked when the heads file loads), and what the search
filter and the CLI accept. Everything imports them from here; it imports only ``typing`` so
the CLI can build its choices without loading pydantic.
"""

from __future__ import annotations

from typing import Literal, get_args

SentimentLabel = Literal["negative", "neutral", "positive"]
EmotionLabel = Literal["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]

#: In head-output order.
SENTIMENT_LABELS: tuple[SentimentLabel, ...] = get_args(SentimentLabel)
EMOTION_LABELS: tuple[EmotionLabel, ...] = get_args(EmotionLabel)
