"""Raw message text and PII never reach the logs (streams.logging)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from schemas.records import InboundSMS
from streams.logging import configure_logging, safe_repr, scrub_text, uninstall_scrubbing
from streams.settings import Settings

SECRET_BODY = "Zorblax quintessence my bill doubled again and nobody called me back"
PHONE = "+447700900123"
EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
RAW = json.dumps(
    {"message_id": "SM-leak-1", "from": PHONE, "body": f"{SECRET_BODY} {EMAIL} {CARD}",
     "received_at": "not a date", "brand": "acme"}
).encode()
LEAKS = ("Zorblax", "quintessence", "bill doubled", PHONE, "7700900123", EMAIL, "4111")


@pytest.fixture()
def log_output() -> Iterator[io.StringIO]:
    """Route the root logger into a buffer through configure_logging."""
    buf = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    configure_logging(Settings(log_level="DEBUG"), stream=buf)
    yield buf
    uninstall_scrubbing()
    root.handlers, root.level = saved[0], saved[1]


def _assert_clean(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked into the log: {text!r}"


def test_bytes_dict_and_record_arguments_are_described_not_dumped(log_output) -> None:
    log = logging.getLogger("voc.test")
    payload = json.loads(RAW)
    log.info("received %r", RAW)
    log.info("payload %s", payload)
    log.warning("raw %s", RAW.decode())
    log.info(payload)  # a non-string message
    log.info("text=%(text)s", {"text": payload["body"]})
    out = log_output.getvalue()
    _assert_clean(out)
    assert "SM-leak-1" in out  # identifiers stay, so an operator can find the message
    assert f"<bytes len={len(RAW)}" in out


def test_pydantic_validation_errors_do_not_echo_the_input(log_output) -> None:
    log = logging.getLogger("voc.test")
    try:
        InboundSMS.model_validate_json(RAW)
    except ValidationError as exc:
        # the ordinary ways a worker reports a bad message
        log.exception("invalid message: %s", exc)
        log.error("invalid message %r", exc)
    out = log_output.getvalue()
    assert "received_at" in out and "Traceback" in out  # still useful
    _assert_clean(out)


def test_pii_in_short_strings_is_masked(log_output) -> None:
    logging.getLogger("voc.test").info("customer %s / %s / %s", PHONE, EMAIL, CARD)
    out = log_output.getvalue()
    _assert_clean(out)
    assert "[PHONE]" in out and "[EMAIL]" in out and "[CARD]" in out


def test_library_loggers_are_scrubbed_too(log_output) -> None:
    """Faust/aiokafka log through their own loggers; the record factory covers them."""
    logging.getLogger("aiokafka.consumer").warning("bad value %s", RAW)
    logging.getLogger("faust.agents").error("crashed on %r", {"body": SECRET_BODY})
    _assert_clean(log_output.getvalue())


def test_ordinary_operational_logs_stay_readable(log_output) -> None:
    log = logging.getLogger("voc.test")
    log.info("indexed %d docs into %s in %.2fs (offset %s)", 32, "voc-feedback-2026.11", 0.5,
             1764100000123)
    out = log_output.getvalue()
    assert "indexed 32 docs into voc-feedback-2026.11 in 0.50s (offset 1764100000123)" in out


def test_configure_logging_is_idempotent(log_output) -> None:
    configure_logging(Settings())
    configure_logging(Settings())
    logging.getLogger("voc.test").warning("once")
    assert log_output.getvalue().count("once") == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"\xff\xfe raw", "<bytes len=6 sha1="),
        ("x" * 500, "<text len=500 sha1="),
        (InboundSMS.model_validate(
            {"message_id": "SM9", "from": PHONE, "body": SECRET_BODY,
             "received_at": "2026-11-25T18:00:00Z", "brand": "acme"}),
         "<InboundSMS message_id=SM9"),
        ({"body": SECRET_BODY, "id": "sms:SM9"}, "<dict keys=2 id=sms:SM9"),
        ([SECRET_BODY], "<list len=1>"),
        (42, "42"),
    ],
)
def test_safe_repr(value: object, expected: str) -> None:
    out = safe_repr(value)
    assert out.startswith(expected)
    _assert_clean(out)


def test_scrub_text_masks_pii_but_not_plain_numbers() -> None:
    text = scrub_text(f"call {PHONE} or 07700 900123, mail {EMAIL}, card 4111-1111-1111-1111, "
                      "ts 1764100000123, partition 3")
    assert "[PHONE] or [PHONE]" in text and "[EMAIL]" in text and "[CARD]" in text
    assert "1764100000123" in text and "partition 3" in text
