"""Asking a running worker or console how it is: a plain HTTP GET, and waiting for an answer.

Why a module of its own: ``voc demo``, the pipeline benchmark and the end-to-end test all
poll a worker the same way, and the benchmark must not import the CLI to do it.
Standard library only, so it costs nothing to import.
"""

from __future__ import annotations

import json
import subprocess
import time
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


class NotAnswering(RuntimeError):
    """The process died, or its URL did not answer 200 in time."""


def wait_answering(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None,
                   name: str = "service", poll_s: float = 1.0) -> Any:
    """Poll ``url`` until it answers 200 (the worker's ``/health``, the console's ``/login``);
    its body. Raises NotAnswering when ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise NotAnswering(f"{name} exited with code {proc.returncode}")
        status, last = http_json(url)
        if status == 200:
            return last
        time.sleep(poll_s)
    raise NotAnswering(f"{name} did not answer after {timeout_s:.0f}s: {last}")
