"""Liveness vs readiness on real processes: a real ``voc worker`` (real encoder, real Kafka)
whose search cluster goes away answers ``/health`` 503 (readiness: hold back) and ``/live``
200 throughout (liveness: do not restart it), and is ready again once search is back, with
no restart. A real ``voc console`` with no backend at all answers ``/live`` 200 too. Each
one's resident memory fits the memory request of its Kubernetes Deployment.

Search "goes away" by stopping the header-passing proxy the worker reaches it through
(tests/support/es_proxy.py), then starting it again on the same port: the shared stack's
OpenSearch is never stopped under the other suites.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from streams.liveness import LIVE_PATH
from streams.probe import http_json
from streams.settings import Settings
from streams.web import HEALTH_PATH
from tests.support.es_proxy import EsProxy
from tests.support.k8s import memory_request
from tests.support.live import free_port, require_stack, voc_process, wait_until

REPO = Path(__file__).resolve().parents[2]


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def stack() -> Settings:
    base = Settings()
    require_stack(base)
    return base


@pytest.fixture(scope="module")
def worker(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A worker reaching search through a proxy the test can stop; torn down whatever happens."""
    from streams.cleanup import remove_run
    from streams.topics import create_topics

    run = uuid.uuid4().hex[:8]
    workdir = tmp_path_factory.mktemp(f"live-{run}")
    proxy = EsProxy(stack.search_url).start()
    env = {
        "VOC_TOPIC_PREFIX": f"live-{run}.",
        "VOC_SEARCH_ALIAS": f"voc-live-{run}",
        "VOC_CONSUMER_GROUP": f"voc-live-{run}",
        "VOC_SEARCH_URL": proxy.url,
        "VOC_SEARCH_BACKEND": "opensearch",
        "VOC_SEARCH_REPLICAS": "0",
        "VOC_WEB_PORT": str(free_port()),
        "VOC_WORKER_DATA_DIR": str(workdir / "worker"),
    }
    settings = Settings(topic_prefix=env["VOC_TOPIC_PREFIX"], search_alias=env["VOC_SEARCH_ALIAS"],
                        consumer_group=env["VOC_CONSUMER_GROUP"], search_replicas=0,
                        web_port=int(env["VOC_WEB_PORT"]))
    create_topics(settings)
    base_url = f"http://127.0.0.1:{settings.web_port}"
    state = {"proxy": proxy}
    try:
        with voc_process("worker", _env(env), workdir / "worker.log",
                         lambda: http_json(base_url + HEALTH_PATH)[0] == 200,
                         timeout=240, every=1.0) as proc:
            yield {"proc": proc, "base_url": base_url, "state": state,
                   "upstream": stack.search_url}
    finally:
        state["proxy"].stop()
        remove_run(settings)


def test_worker_live_while_search_is_down_and_ready_again_after(worker: dict[str, Any]) -> None:
    base, proc = worker["base_url"], worker["proc"]
    status, live = http_json(base + LIVE_PATH)
    assert status == 200 and live["service"] == "worker" and live["pid"] == proc.pid
    rss = psutil.Process(proc.pid).memory_info().rss
    assert rss <= memory_request("worker-deployment"), f"worker RSS {rss >> 20} MiB"

    proxy: EsProxy = worker["state"]["proxy"]
    port = int(proxy.url.rsplit(":", 1)[1])
    proxy.stop()  # search unreachable from here on

    def not_ready() -> Any:
        status, body = http_json(base + HEALTH_PATH, timeout=5)
        return body if status == 503 else None

    health = wait_until(not_ready, 30, "/health to report search down")
    assert health["search"]["ok"] is False and health["kafka"]["ok"] is True

    # a liveness probe's view over several periods: always 200, from the same process
    for _ in range(5):
        status, live = http_json(base + LIVE_PATH, timeout=5)
        assert status == 200 and live["status"] == "alive" and live["pid"] == proc.pid
        assert http_json(base + HEALTH_PATH, timeout=5)[0] == 503
    assert proc.poll() is None

    # search back where the worker looks: ready again, same process, never restarted
    worker["state"]["proxy"] = EsProxy(worker["upstream"], port=port).start()
    wait_until(lambda: http_json(base + HEALTH_PATH, timeout=5)[0] == 200, 60,
               "/health to be 200 again")
    status, after = http_json(base + LIVE_PATH)
    # same pid and a clock that did not go back: never restarted (uptime has 0.1 s steps, so
    # a quick recovery can read the same value)
    assert status == 200 and after["pid"] == proc.pid and after["uptime_s"] >= live["uptime_s"]


def test_console_live_without_any_backend(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    port = free_port()
    env = {
        "VOC_CONSOLE__PORT": str(port),
        "VOC_SEARCH_URL": dead,
        "VOC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "VOC_CONSOLE__PROMETHEUS_URL": dead,
        "VOC_CONSOLE__ALERTMANAGER_URL": dead,
        "VOC_CONSOLE__WORKER_URL": dead,
        "VOC_STACK__STATE_DIR": str(tmp_path / "state"),
    }
    url = f"http://127.0.0.1:{port}{LIVE_PATH}"
    with voc_process("console", _env(env), tmp_path / "console.log",
                     lambda: http_json(url)[0] == 200, timeout=60, stop_grace_s=15,
                     cwd=REPO) as proc:
        status, body = http_json(url)
        assert status == 200 and body["service"] == "console" and body["pid"] == proc.pid
        rss = psutil.Process(proc.pid).memory_info().rss
        assert rss <= memory_request("console-deployment"), f"console RSS {rss >> 20} MiB"
