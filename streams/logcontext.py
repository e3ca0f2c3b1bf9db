"""Which message a log line is about: feedback id, topic, partition and offset.

The agents set the context around each event (``event_context``); ``ContextFilter`` copies
it onto every record logged meanwhile, so a JSON log line carries those fields and one
message can be followed across agents by its feedback id. A context variable, not a
logger adapter: it follows the code into every helper the agent calls, and each asyncio
task has its own, so two agents never mix their ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass

#: The record attributes (and JSON fields) the context adds, when known.
FIELDS = ("feedback_id", "topic", "partition", "offset")


@dataclass(frozen=True)
class EventContext:
    """One event as the logs name it; None where not known."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    feedback_id: str | None = None


_CURRENT: ContextVar[EventContext | None] = ContextVar("voc_event_context", default=None)


@contextmanager
def event_context(ctx: EventContext) -> Iterator[None]:
    """Log records made inside carry ``ctx``'s fields; the previous context comes back after."""
    token = _CURRENT.set(ctx)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_context() -> EventContext | None:
    return _CURRENT.get()


class ContextFilter(logging.Filter):
    """Copies the current event context onto each record (fields left unset when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _CURRENT.get()
        if ctx is not None:
            for name, value in asdict(ctx).items():
                if value is not None:
                    setattr(record, name, value)
        return True


# EnrichedFeedback serialises ``schema_version`` then ``id``: the first top-level "id" field
_LEADING_ID = re.compile(rb'"id"\s*:\s*"((?:[^"\\]|\\.){1,200})"')


def leading_id(value: bytes | None) -> str | None:
    """The ``id`` of a serialised record, read from its first 512 bytes without parsing it."""
    if not value:
        return None
    match = _LEADING_ID.search(value, 0, 512)
    return match.group(1).decode("utf-8", "replace") if match else None
