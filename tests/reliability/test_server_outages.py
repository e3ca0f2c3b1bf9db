"""Server outages: the search engine down for 60 s, and a Kafka broker restart, mid-stream.

These tests stop and start servers, so they run against a *private* Kafka + OpenSearch
pair started for this module by the stack's own code (``streams.stack``: the same
``Service.start/stop/wait_healthy`` that ``voc stack up``/``down`` use, PID files and all)
in a temporary state directory on free ports. The shared stack that other suites (and
other people) use is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from streams.settings import Settings
from tests.reliability.harness import (
    Scenario,
    check_delivery,
    free_port,
    kafka_up,
    metric_sum,
    record_figures,
    scenario_lifetime,
    search_up,
    wait_until,
)
from tests.reliability.messages import make_messages

OUTAGE_S = float(os.environ.get("VOC_RELIABILITY_OUTAGE_S", "60"))
MESSAGES = int(os.environ.get("VOC_RELIABILITY_OUTAGE_MESSAGES", "3000"))
RATE = float(os.environ.get("VOC_RELIABILITY_OUTAGE_RATE", "40"))


def _port_pair(gap: int) -> int:
    """A free port p with p + gap also free (OpenSearch's transport port is http + 100)."""
    for _ in range(50):
        p = free_port()
        if p + gap < 65535:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p + gap))
                except OSError:
                    continue
            return p
    raise RuntimeError("no free port pair")


class PrivateStack:
    """Kafka + OpenSearch of our own, managed with the stack's Service classes."""

    def __init__(self, state_dir: Path) -> None:
        from streams.stack.kafka import KafkaService
        from streams.stack.opensearch import OpenSearchService

        base = Settings()
        os_port = _port_pair(100)
        stack = base.stack.model_copy(update={
            "state_dir": state_dir, "kafka_port": free_port(),
            "kafka_controller_port": free_port(), "opensearch_port": os_port,
        })
        self.settings = base.model_copy(update={
            "stack": stack, "kafka_bootstrap": f"127.0.0.1:{stack.kafka_port}",
            "search_url": f"http://127.0.0.1:{os_port}",
        })
        self.kafka = KafkaService(self.settings)
        self.opensearch = OpenSearchService(self.settings)

    def healthy(self, svc: object) -> bool:
        """Our own checks (plain clients), independent of the code under test."""
        return kafka_up(self.settings) if svc is self.kafka else search_up(self.settings)

    def up(self) -> None:
        for svc in (self.kafka, self.opensearch):
            svc.prepare()
            svc.start()
        for svc in (self.kafka, self.opensearch):
            wait_until(lambda s=svc: self.healthy(s), 240, what=f"private {svc.name} healthy")

    def stop(self, svc: Any) -> None:
        """Stop by PID file (as ``voc stack down``), then wait until the process is gone, so
        a restart never races the old process for its port or data-directory lock."""
        pid = svc.pid()
        svc.stop()
        if pid is not None:
            wait_until(lambda: not _running(pid), 90, 0.2, what=f"{svc.name} pid {pid} gone")
        port = svc.port
        wait_until(lambda: not _port_open(port), 60, 0.2, what=f"port {port} released")

    def start(self, svc: Any) -> float:
        """Start by the stack's own code; seconds until it answers again."""
        started = time.monotonic()
        svc.start()
        wait_until(lambda: self.healthy(svc), 240, what=f"private {svc.name} back")
        return time.monotonic() - started

    def down(self) -> None:
        for svc in (self.opensearch, self.kafka):
            with contextlib.suppress(Exception):
                self.stop(svc)


def _running(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    state = tmp_path_factory.mktemp("private-stack")
    ps = PrivateStack(state)
    try:
        ps.up()
        yield ps
    finally:
        ps.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture()
def outage_scenario(private_stack: PrivateStack, request: pytest.FixtureRequest,
                    tmp_path: Path) -> Iterator[Scenario]:
    with scenario_lifetime(Scenario(test=request.node.name, workdir=tmp_path,
                                    base=private_stack.settings), request) as sc:
        yield sc


def _produce_in_background(sc: Scenario, messages: list, rate: float
                           ) -> tuple[threading.Thread, dict[str, object]]:
    state: dict[str, object] = {"sent": 0, "error": None}

    def run() -> None:
        try:
            sc.produce(messages, rate=rate, on_progress=lambda i: state.__setitem__("sent", i))
        except Exception as exc:
            state["error"] = exc

    t = threading.Thread(target=run, name="replay", daemon=True)
    t.start()
    return t, state


@pytest.mark.timeout(480)
def test_search_down_60s_nothing_dropped_backlog_drains(
        private_stack: PrivateStack, outage_scenario: Scenario) -> None:
    sc = outage_scenario
    messages = make_messages(MESSAGES, sc.run, seed=21)
    valid = sum(1 for m in messages if m.feedback_id)
    worker = sc.add_worker().start()
    worker.wait_healthy()
    replay, state = _produce_in_background(sc, messages, RATE)
    wait_until(lambda: sc.index_count() >= valid // 10, 180, 0.5, what="first documents")

    # --- the search engine goes away while messages keep arriving
    private_stack.stop(private_stack.opensearch)
    down_at = time.monotonic()
    indexed_before = metric_sum(worker.metrics(), "voc_index_docs_total")
    saw_unhealthy = saw_search_down = False
    while time.monotonic() - down_at < OUTAGE_S:
        code, body = worker.health()
        saw_unhealthy |= code == 503 and body is not None and not body["search"]["ok"]
        saw_search_down |= worker.metrics().get("voc_search_up") == 0.0
        assert worker.alive, "the worker died while the search engine was down"
        time.sleep(2.0)
    m_down = worker.metrics()
    sent_during_outage = int(state["sent"])

    # --- it comes back (same data directory, same PID-file handling as `voc stack up`)
    private_stack.start(private_stack.opensearch)
    back_at = time.monotonic()
    replay.join(timeout=300)
    assert state["error"] is None, f"replay failed: {state['error']!r}"
    sc.wait_for_index(valid, timeout_s=300, messages=messages)
    drained_s = time.monotonic() - back_at

    figures = check_delivery(sc, messages)
    m_after = worker.metrics()
    retries = metric_sum(m_after, "voc_index_retries_total")
    assert saw_unhealthy, "/health never reported the search engine down"
    assert saw_search_down, "voc_search_up never dropped to 0 during the outage"
    assert retries > 0, "no index retries were counted during the outage"
    assert metric_sum(m_after, "voc_index_docs_total{result=error}") == 0
    assert metric_sum(m_after, "voc_index_docs_total{result=retryable}") == 0, \
        "the index agent gave up on documents instead of waiting"
    record_figures("search_down", {
        **figures, "outage_s": OUTAGE_S, "sent_before_restart": sent_during_outage,
        "index_docs_before_outage": indexed_before,
        "index_docs_during_outage": metric_sum(m_down, "voc_index_docs_total") - indexed_before,
        "index_retries": retries, "max_consumer_lag_seen": _lag(m_down),
        "drain_after_return_s": round(drained_s, 1), "rate_offered": RATE})


@pytest.mark.timeout(480)
def test_kafka_broker_restart_worker_reconnects_no_loss(
        private_stack: PrivateStack, outage_scenario: Scenario) -> None:
    sc = outage_scenario
    messages = make_messages(MESSAGES, sc.run, seed=31)
    valid = sum(1 for m in messages if m.feedback_id)
    worker = sc.add_worker().start()
    worker.wait_healthy()
    replay, state = _produce_in_background(sc, messages, RATE)
    wait_until(lambda: sc.index_count() >= valid // 10, 180, 0.5, what="first documents")

    # --- restart the broker (SIGTERM by PID file, then start, as `voc stack` does)
    down_at = time.monotonic()
    private_stack.stop(private_stack.kafka)
    sent_at_stop = int(state["sent"])
    time.sleep(10.0)
    assert worker.alive, "the worker died when the broker went away"
    private_stack.start(private_stack.kafka)
    broker_back_s = time.monotonic() - down_at

    replay.join(timeout=300)
    assert state["error"] is None, f"replay failed: {state['error']!r}"
    sc.wait_for_index(valid, timeout_s=300, messages=messages)
    recovery_s = time.monotonic() - down_at
    assert worker.alive, "the worker did not survive the broker restart"
    wait_until(lambda: worker.health()[0] == 200, 60, what="worker healthy again")

    figures = check_delivery(sc, messages)
    record_figures("kafka_restart", {
        **figures, "sent_at_broker_stop": sent_at_stop,
        "broker_down_s": round(broker_back_s, 1), "recovery_s": round(recovery_s, 1),
        "rate_offered": RATE})


def _lag(samples: dict[str, float]) -> float:
    return metric_sum(samples, "voc_consumer_lag")
