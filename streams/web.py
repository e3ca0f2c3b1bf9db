"""Web views on the worker's Faust web server: ``/metrics``, ``/health`` and ``/live``.

``/metrics`` serves our own Prometheus registry (not the process-global one, so
tests and several apps in one process never clash). ``/health`` (readiness) answers 200
only when both Kafka and the search cluster answer, 503 otherwise, with a JSON body
saying which one is down, so a load balancer or Kubernetes readiness probe can act on it.
``/live`` (liveness, ``streams.liveness``) answers 200 whenever the event loop runs, also
while search is down and the worker is correctly holding back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import faust

from streams.liveness import LIVE_PATH, liveness_body
from streams.settings import Settings
from streams.types import SearchSink

if TYPE_CHECKING:
    from streams.metrics import Metrics

PROBE_TIMEOUT_S = 2.0
HEALTH_PATH = "/health"
PROMETHEUS_TEXT = "text/plain; version=0.0.4"


def bootstrap_hosts(settings: Settings) -> list[tuple[str, int]]:
    """(host, port) for each Kafka bootstrap server."""
    out = []
    for item in settings.kafka_bootstrap.split(","):
        item = item.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":")
        out.append((host.strip("[]") or "127.0.0.1", int(port or 9092)))
    return out


async def kafka_reachable(settings: Settings, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to any bootstrap server opens within ``timeout``."""
    for host, port in bootstrap_hosts(settings):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


async def search_reachable(backend: SearchSink, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when the search backend answers its ping within ``timeout``."""
    try:
        return bool(await asyncio.wait_for(backend.ping(), timeout))
    except Exception:
        return False


async def health_report(settings: Settings, backend: SearchSink) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for ``/health``."""
    started = time.perf_counter()
    kafka, search = await asyncio.gather(
        kafka_reachable(settings), search_reachable(backend)
    )
    ok = kafka and search
    body = {
        "status": "ok" if ok else "degraded",
        "kafka": {"ok": kafka, "bootstrap": settings.kafka_bootstrap},
        "search": {"ok": search, "alias": settings.search_alias},
        "checked_in_s": round(time.perf_counter() - started, 3),
    }
    return (200 if ok else 503), body


def register_views(app: faust.App, settings: Settings, *, backend: SearchSink,
                   metrics: Metrics) -> None:
    """Attach ``/metrics``, ``/health`` and ``/live`` to the app's web server."""
    @app.page("/metrics")
    async def metrics_view(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return web.bytes(metrics.render(), content_type=PROMETHEUS_TEXT)

    @app.page(HEALTH_PATH)
    async def health_view(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        status, body = await health_report(settings, backend)
        return web.json(body, status=status)

    @app.page(LIVE_PATH)
    async def live_view(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return web.json(liveness_body("worker"))
