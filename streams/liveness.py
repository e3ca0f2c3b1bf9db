"""``GET /live``: the process is alive and its event loop answers.

Why apart from ``/health``: ``/health`` is readiness. It answers 503 while Kafka or the
search cluster is unreachable, and the worker is then correctly holding back (the index
agent retries and blocks, never drops). A Kubernetes liveness probe on ``/health`` would
restart such a worker in a loop and gain nothing. ``/live`` checks nothing outside the
process: a handler that runs at all proves the loop is turning. The worker's Faust web
server and the console's aiohttp server both serve it, with this one body.
Standard library only, so the console need not import Faust for it.
"""

from __future__ import annotations

import os
import time
from typing import Any

LIVE_PATH = "/live"

_STARTED = time.monotonic()


def liveness_body(service: str) -> dict[str, Any]:
    """What ``/live`` answers (always with 200): who answered and for how long it has run."""
    return {
        "status": "alive",
        "service": service,
        "pid": os.getpid(),
        "uptime_s": round(time.monotonic() - _STARTED, 1),
    }
