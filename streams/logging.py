"""Logging for the worker and the CLI: customer text never reaches the logs.

Why: logs are shipped to places (log aggregators, tickets, chat) with far wider
access than the enriched topic or the index, so a message body or a phone
number in a log line is a data leak even when the pipeline itself redacts.

How the guarantee is kept, at every level from DEBUG up:

* ``configure_logging`` installs a log-record factory, so *every* record made in
  the process (ours, Faust's, aiokafka's, the search clients') is scrubbed when
  it is created, whatever handlers or formatters Faust installs later;
* arguments that can carry a body (``bytes``, ``dict``/``list``, pydantic models,
  strings longer than ``MAX_ARG_CHARS``) are replaced by ``safe_repr``: kind,
  length, a short digest and the record's identifiers, never the text;
* the final message and any exception text go through ``scrub_text``: pydantic's
  ``input_value=...`` echoes and long ``b'...'`` literals are removed, and every kind
  of PII the redaction detector knows (``processors.pii``) is masked (defence in depth;
  code must still log bodies only through ``safe_repr``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pythonjsonlogger.json import JsonFormatter

from processors.redact import redact
from streams.logcontext import FIELDS as CONTEXT_FIELDS
from streams.logcontext import ContextFilter

#: A plain-string log argument longer than this is treated as possible customer text.
MAX_ARG_CHARS = 120
#: Identifier fields that are safe (and useful) to show for a record-like value.
ID_FIELDS = (
    "id", "message_id", "response_id", "feedback_id", "followup_id", "survey_id",
    "source_topic", "partition", "offset", "reason", "channel", "brand", "schema_version",
)

# pydantic echoes the offending input: "input_value='my bill is ...', input_type=str"
_INPUT_VALUE = re.compile(r"input_value=(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^,\]\n]*)")
# long bytes / str literals inside reprs and tracebacks
_LONG_BYTES = re.compile(r"\bb'(?:[^'\\]|\\.){30,}'|\bb\"(?:[^\"\\]|\\.){30,}\"")

_TEXT_FIELDS = ("body", "comment", "text", "note", "summary", "suggested_reply", "original_b64")


class _HasLogSettings(Protocol):
    log_level: str

    @property
    def log_format(self) -> str: ...  # "text" | "json" (read-only: Settings has a Literal)


def _digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:10]  # noqa: S324 - an identifier, not security


def scrub_text(text: str) -> str:
    """Mask what could be customer text or PII inside an already formatted string.

    PII goes through the same detector as redaction (``processors.pii``), so a log line
    never keeps what the enriched record would have lost; epoch-millisecond timestamps and
    plain counters stay readable (the detector leaves ordinary numbers alone).
    """
    text = _INPUT_VALUE.sub("input_value=<redacted>", text)
    text = _LONG_BYTES.sub(lambda m: f"<bytes literal len={len(m.group(0))}>", text)
    return redact(text).text


def _ids_of(mapping: Mapping[str, Any]) -> str:
    parts = []
    for key in ID_FIELDS:
        value = mapping.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            parts.append(f"{key}={scrub_text(str(value))[:80]}")
    for key in _TEXT_FIELDS:
        value = mapping.get(key)
        if isinstance(value, str):
            parts.append(f"{key}=<{len(value)} chars>")
    return " ".join(parts)


def safe_repr(value: Any) -> str:
    """A log-safe description of ``value``: identifiers and sizes, never message text."""
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return f"<bytes len={len(raw)} sha1={_digest(raw)}>"
    if isinstance(value, str):
        if len(value) <= MAX_ARG_CHARS and "\n" not in value:
            return scrub_text(value)
        return f"<text len={len(value)} sha1={_digest(value.encode('utf-8', 'replace'))}>"
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # a pydantic record
        try:
            data = dump(by_alias=False)
        except Exception:  # noqa: BLE001 - describing must never fail
            data = {}
        ids = _ids_of(data) if isinstance(data, Mapping) else ""
        return f"<{type(value).__name__} {ids}>".replace(" >", ">")
    if isinstance(value, Mapping):
        ids = _ids_of(value)
        return f"<dict keys={len(value)} {ids}>".replace(" >", ">")
    if isinstance(value, list | tuple | set | frozenset):
        return f"<{type(value).__name__} len={len(value)}>"
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {scrub_text(str(value))[:300]}"
    text = repr(value)
    if len(text) > MAX_ARG_CHARS:
        return f"<{type(value).__name__}>"
    return scrub_text(text)


def _safe_arg(value: Any) -> Any:
    """Keep numbers as numbers (so %d still works); describe everything else safely."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return safe_repr(value)


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Make one record safe in place: its message, its arguments and its exception text."""
    if getattr(record, "_voc_scrubbed", False):
        return record
    if not isinstance(record.msg, str):
        record.msg = safe_repr(record.msg)
    if record.args:
        if isinstance(record.args, Mapping) and "%(" in str(record.msg):
            record.args = {
                k: f"<{len(v)} chars>" if k in _TEXT_FIELDS and isinstance(v, str) else _safe_arg(v)
                for k, v in record.args.items()
            }
        elif isinstance(record.args, Mapping):  # log.info("%s", some_dict)
            record.args = (safe_repr(record.args),)
        else:
            record.args = tuple(_safe_arg(a) for a in record.args)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not kill logging
        message = f"{record.msg} (unformattable arguments)"
    record.msg, record.args = scrub_text(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        rendered = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = scrub_text(rendered)
        # the formatter re-renders exc_info when exc_text is falsy; keep only the text
        record.exc_info = None
    if record.stack_info:
        record.stack_info = scrub_text(record.stack_info)
    record._voc_scrubbed = True
    return record


class ScrubFilter(logging.Filter):
    """A handler filter doing what the record factory does, for handlers set up by others."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_base_factory: Callable[..., logging.LogRecord] | None = None


def _scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _base_factory is not None
    return scrub_record(_base_factory(*args, **kwargs))


def install_scrubbing() -> None:
    """Scrub every record created in this process from now on (idempotent)."""
    global _base_factory
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_scrubbing_factory)


def uninstall_scrubbing() -> None:
    """Restore the previous record factory (for tests that must leave the process as found)."""
    global _base_factory
    if _base_factory is not None:
        logging.setLogRecordFactory(_base_factory)
        _base_factory = None


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: JSON log fields (python-json-logger, BSD-2-Clause), in this order; the event context
#: (``streams.logcontext.FIELDS``) follows where known, and ``exc_info`` for a (scrubbed)
#: traceback.
JSON_FIELDS = ("asctime", "levelname", "name", "message")
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


class _JsonFormatter(JsonFormatter):
    """python-json-logger's formatter, writing only the fields named here: whatever else a
    record carries (the scrubber's marker, a library's ``extra=``, which may hold a body)
    stays out."""

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        for key in [k for k in log_data if k not in _JSON_KEEP]:
            del log_data[key]


_JSON_KEEP = frozenset({*(JSON_RENAMES.get(f, f) for f in JSON_FIELDS), *CONTEXT_FIELDS,
                        "exc_info", "stack_info"})


def make_formatter(log_format: str = "text") -> logging.Formatter:
    """The stdlib one-line format, or one JSON object per line (``VOC_LOG_FORMAT=json``)."""
    if log_format != "json":
        return logging.Formatter(LOG_FORMAT)
    return _JsonFormatter(" ".join(f"%({f})s" for f in JSON_FIELDS),
                          rename_fields=JSON_RENAMES, json_ensure_ascii=False)


def configure_logging(settings: _HasLogSettings | None = None, stream: Any = None) -> None:
    """Set the level and format from settings, log to stderr, and make every record safe.

    Call it once at process start (the worker and the CLI do); calling it again is
    harmless. Faust may add its own handlers later: the record factory still
    scrubs their records, and ``ScrubFilter`` is attached to every root handler, with
    ``ContextFilter`` (the event's feedback id, topic, partition and offset) after it.
    """
    install_scrubbing()
    level = getattr(logging, str(getattr(settings, "log_level", "INFO")).upper(), logging.INFO)
    formatter = make_formatter(str(getattr(settings, "log_format", "text")))
    root = logging.getLogger()
    root.setLevel(level)
    ours = [h for h in root.handlers if getattr(h, "_voc_handler", False)]
    if not ours:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler._voc_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        ours = [handler]
    for h in ours:
        h.setFormatter(formatter)
    for h in root.handlers:
        if not any(isinstance(f, ScrubFilter) for f in h.filters):
            h.addFilter(ScrubFilter())
        if not any(isinstance(f, ContextFilter) for f in h.filters):
            h.addFilter(ContextFilter())
