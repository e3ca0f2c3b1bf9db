"""The worker's probes on its real Faust web server (no broker): ``/live`` answers 200
while ``/health`` says 503 because Kafka and search are both unreachable."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streams.app import create_app
from streams.liveness import LIVE_PATH
from streams.metrics import Metrics
from streams.probe import http_json
from streams.settings import Settings
from streams.web import HEALTH_PATH, register_views
from tests.support.live import free_port


class SearchDown:
    """A search sink whose cluster does not answer (what LazyBackend.ping gives then)."""

    async def ping(self) -> bool:
        return False


@pytest.fixture
async def web_base(tmp_path: Path, metrics: Metrics) -> AsyncIterator[str]:
    port = free_port()
    settings = Settings(worker_data_dir=tmp_path, web_port=port,
                        kafka_bootstrap=f"127.0.0.1:{free_port()}")  # nothing listens there
    app = create_app(settings)
    register_views(app, settings, backend=SearchDown(), metrics=metrics)  # type: ignore[arg-type]
    await app.web.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await app.web.stop()


async def _get(url: str) -> tuple[int, Any]:
    return await asyncio.get_running_loop().run_in_executor(None, http_json, url)


async def test_live_is_200_while_health_is_503(web_base: str) -> None:
    status, health = await _get(web_base + HEALTH_PATH)
    assert status == 503
    assert health["status"] == "degraded"
    assert not health["kafka"]["ok"] and not health["search"]["ok"]

    status, live = await _get(web_base + LIVE_PATH)
    assert status == 200
    assert live["status"] == "alive" and live["service"] == "worker"
    assert live["pid"] == os.getpid()  # answered by this process's loop, nothing else asked


async def test_metrics_still_served_beside_the_probes(web_base: str) -> None:
    status, text = await _get(web_base + "/metrics")
    assert status == 200 and "voc_" in text
