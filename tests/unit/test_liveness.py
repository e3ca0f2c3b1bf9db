"""``/live``: the body both servers answer, and the console's route (no login, no backend)."""

from __future__ import annotations

import os
from pathlib import Path

from streams.console.app import create_console_app
from streams.console.context import ConsoleContext
from streams.liveness import LIVE_PATH, liveness_body
from tests.support.live import free_port
from tests.unit.console_fakes import console_settings, make_client


def test_body_names_the_process_and_its_uptime() -> None:
    first = liveness_body("worker")
    assert first["status"] == "alive" and first["service"] == "worker"
    assert first["pid"] == os.getpid()
    assert first["uptime_s"] >= 0
    assert liveness_body("console")["uptime_s"] >= first["uptime_s"]  # one clock per process


async def test_console_live_needs_no_login_and_no_backend(tmp_path: Path) -> None:
    # real clients, every backend pointed at a port nothing listens on
    dead = f"http://127.0.0.1:{free_port()}"
    settings = console_settings(tmp_path).model_copy(update={"search_url": dead})
    settings.console.prometheus_url = settings.console.alertmanager_url = dead
    settings.console.worker_url = dead
    client = await make_client(create_console_app(settings, ConsoleContext.from_settings(
        settings)))
    try:
        resp = await client.get(LIVE_PATH, allow_redirects=False)
        assert resp.status == 200
        body = await resp.json()
        assert body["status"] == "alive" and body["service"] == "console"
        assert body["pid"] == os.getpid()
        # the pages themselves still want a login: /live opened nothing else
        page = await client.get("/", allow_redirects=False)
        assert page.status == 303 and page.headers["Location"].startswith("/login")
    finally:
        await client.close()
