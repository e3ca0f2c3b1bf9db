"""``VOC_LOG_FORMAT=json`` (streams/logging.py): one JSON object per line with the event
context, the PII scrubber still in the path, and the text format unchanged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from streams.logcontext import EventContext, event_context
from streams.logging import configure_logging, uninstall_scrubbing
from streams.settings import Settings

PHONE = "+44 7700 900123"
EMAIL = "jo.bloggs@example.com"


@pytest.fixture()
def configured() -> Iterator[Callable[[str], io.StringIO]]:
    """configure_logging into a buffer with a given format; the root logger restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def make(fmt: str) -> io.StringIO:
        buf = io.StringIO()
        root.handlers = []
        configure_logging(Settings(log_level="DEBUG", log_format=fmt), stream=buf)
        return buf

    yield make
    uninstall_scrubbing()
    root.handlers, root.level = saved[0], saved[1]


def lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_json_lines_carry_the_event_context(configured) -> None:  # type: ignore[no-untyped-def]
    buf = configured("json")
    log = logging.getLogger("streams.agents")
    log.info("before")
    with event_context(EventContext(topic="p.voc.feedback.enriched", partition=3, offset=41,
                                    feedback_id="sms:SM1")):
        log.debug("processed %s", "p.voc.feedback.enriched")
    before, inside = lines(buf)
    assert set(before) == {"time", "level", "logger", "message"}
    assert before["level"] == "INFO" and before["logger"] == "streams.agents"
    assert inside == {**inside, "level": "DEBUG", "message": "processed p.voc.feedback.enriched",
                      "feedback_id": "sms:SM1", "topic": "p.voc.feedback.enriched",
                      "partition": 3, "offset": 41}


def test_the_scrubber_runs_for_json_too(configured) -> None:  # type: ignore[no-untyped-def]
    buf = configured("json")
    log = logging.getLogger("voc.test")
    log.warning("call me on %s or %s", PHONE, EMAIL)
    try:
        raise ValueError(f"input_value='my number is {PHONE}'")
    except ValueError:
        log.exception("failed")
    text = buf.getvalue()
    assert PHONE not in text and EMAIL not in text and "7700" not in text
    first, failed = lines(buf)
    assert first["message"] == "call me on [PHONE] or [EMAIL]"
    assert "ValueError" in str(failed["exc_info"])  # the (scrubbed) traceback is kept
    assert "_voc_scrubbed" not in text


def test_extras_from_libraries_stay_out(configured) -> None:  # type: ignore[no-untyped-def]
    buf = configured("json")
    logging.getLogger("lib").info("x", extra={"body": "customer text here"})
    assert "customer text" not in buf.getvalue()


def test_text_format_is_the_stdlib_line(configured) -> None:  # type: ignore[no-untyped-def]
    buf = configured("text")
    with event_context(EventContext(feedback_id="sms:SM1")):
        logging.getLogger("voc.test").warning("plain %d", 3)
    assert buf.getvalue().rstrip().endswith(" WARNING voc.test: plain 3")


def test_switching_format_reuses_the_one_handler(configured) -> None:  # type: ignore[no-untyped-def]
    buf = configured("text")
    configure_logging(Settings(log_format="json"))
    logging.getLogger("voc.test").warning("once")
    assert [json.loads(x)["message"] for x in buf.getvalue().splitlines()] == ["once"]
