"""The event context of log records (streams/logcontext.py)."""

from __future__ import annotations

import asyncio
import logging

from streams.logcontext import (
    ContextFilter,
    EventContext,
    current_context,
    event_context,
    leading_id,
)


def record() -> logging.LogRecord:
    return logging.makeLogRecord({"msg": "hello"})


def test_the_filter_copies_the_known_fields_only() -> None:
    f = ContextFilter()
    rec = record()
    assert f.filter(rec) and not hasattr(rec, "feedback_id")  # no context: nothing added
    with event_context(EventContext(topic="t", partition=2, offset=9, feedback_id="sms:1")):
        rec = record()
        f.filter(rec)
    assert (rec.topic, rec.partition, rec.offset, rec.feedback_id) == ("t", 2, 9, "sms:1")
    with event_context(EventContext(topic="t", partition=0, offset=0)):
        rec = record()
        f.filter(rec)
    assert rec.partition == 0 and not hasattr(rec, "feedback_id")
    assert current_context() is None  # restored on exit


async def test_each_task_has_its_own_context() -> None:
    seen: dict[str, str | None] = {}

    async def agent(name: str) -> None:
        with event_context(EventContext(feedback_id=name)):
            await asyncio.sleep(0.01)
            ctx = current_context()
            seen[name] = ctx.feedback_id if ctx else None

    await asyncio.gather(agent("a"), agent("b"))
    assert seen == {"a": "a", "b": "b"}


def test_leading_id_reads_the_first_id_field_without_parsing() -> None:
    assert leading_id(b'{"schema_version":1,"id":"sms:SM1","channel":"sms"}') == "sms:SM1"
    assert leading_id(b'{"message_id":"x","body":"no id here"}') is None
    assert leading_id(b"") is None and leading_id(None) is None
    assert leading_id(b" " * 600 + b'{"id":"late"}') is None  # only the head is read
