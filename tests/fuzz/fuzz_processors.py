"""Coverage-guided fuzzing of the text processors (atheris): ``make fuzz`` runs it for a
time budget. A crash or a hang (atheris' -timeout) is a bug: add the input to
tests/unit/test_pii_hostile.py as a regression case."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import contextlib

import numpy  # noqa: E402, F401 - heavy third-party imports stay uninstrumented
import phonenumbers  # noqa: E402, F401
import pydantic  # noqa: E402, F401

import schemas.records  # noqa: E402, F401

with atheris.instrument_imports(include=["processors"]):
    from processors.normalize import clean_and_truncate
    from processors.pipeline import InvalidInput, parse_inbound
    from processors.redact import redact
    from processors.reply import suggest_reply


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 20_000))
    cleaned, _ = clean_and_truncate(text, 5000)
    r = redact(cleaned)
    if redact(r.text).text != r.text:
        raise AssertionError("redaction is not stable")
    suggest_reply(r.text, "anger", [])
    with contextlib.suppress(InvalidInput):
        parse_inbound(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
