"""Asking a running worker how it is: a plain HTTP GET of its ``/health`` or ``/metrics``.

Why a module of its own: ``voc demo``, the pipeline benchmark and the end-to-end test all
poll a worker the same way, and the benchmark must not import the CLI to do it.
Standard library only, so it costs nothing to import.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def http_json(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    """(status, parsed JSON or text) for a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (local URL)
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    except OSError:
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")
