"""Smoke tests: every server of the local stack answers the clients the pipeline uses.

Real servers only (``voc stack up``): Kafka with kafka-python and aiokafka, OpenSearch
with opensearch-py and with the elasticsearch client (through the test proxy),
Prometheus scraping a real target, Alertmanager. Plus the stack's own lifecycle:
``up`` twice is harmless, ``down`` leaves no process behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.topics import INTERNAL_TOPICS, TOPICS
from streams.settings import Settings, StackSettings
from streams.topics import (
    TOPIC_CONFIGS,
    create_internal_topics,
    create_topics,
    delete_internal_topics,
    delete_topics,
    describe_topics,
)
from tests.support.live import free_port, wait_until

pytestmark = pytest.mark.timeout(300)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (local URL)
        return json.loads(resp.read())


@pytest.fixture()
def topic(live_stack: Settings, unique_name: str) -> Iterator[str]:
    """A fresh 2-partition topic, deleted afterwards."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=live_stack.kafka_bootstrap)
    admin.create_topics([NewTopic(unique_name, 2, 1)])
    try:
        yield unique_name
    finally:
        admin.delete_topics([unique_name])
        admin.close()


# --- Kafka -----------------------------------------------------------------------------


def test_contract_topics_exist_with_configured_partitions(live_stack: Settings) -> None:
    counts = describe_topics(live_stack)
    expected = {live_stack.topic(name): live_stack.topics.partitions for name in TOPIC_CONFIGS}
    assert counts == expected


def test_topic_creation_is_explicit_and_idempotent(unique_name: str) -> None:
    settings = Settings(topic_prefix=f"{unique_name}.")
    try:
        first = create_topics(settings)
        assert set(first.values()) == {"created"}
        assert len(first) == len(TOPICS) == 8  # every contract topic, the audit trail too
        second = create_topics(settings)
        assert set(second.values()) == {"exists"}
        assert set(describe_topics(settings).values()) == {settings.topics.partitions}
        _check_configs_and_large_dead_letter(settings)
        grown = Settings(topic_prefix=f"{unique_name}.", topics={"partitions": 6})
        assert set(create_topics(grown).values()) == {"partitions 4->6"}
    finally:
        delete_topics(settings)


def test_a_worker_groups_internal_topics_are_created_before_faust_starts(
        unique_name: str) -> None:
    """``voc worker`` creates its group's internal topics before the group join (so the
    first assignment includes them); a second worker of the group finds them there."""
    from kafka import KafkaAdminClient

    settings = Settings(topic_prefix=f"{unique_name}.", consumer_group=unique_name)
    names = [settings.topic(t.logical) for t in INTERNAL_TOPICS]
    try:
        assert create_internal_topics(settings) == names
        assert create_internal_topics(settings) == []
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            described = admin.describe_topics(names)
        finally:
            admin.close()
        assert [len(t["partitions"]) for t in described] == [settings.topics.partitions]
    finally:
        delete_internal_topics(settings)


def _check_configs_and_large_dead_letter(settings: Settings) -> None:
    """Topic configs are set, repaired when changed, and a 3 MB dead letter fits."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import ConfigResource, ConfigResourceType

    dead = settings.topic("deadletter")
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        res = ConfigResource(ConfigResourceType.TOPIC, dead)
        configs = admin.describe_configs([res])["topic"][dead]
        assert configs["max.message.bytes"]["value"] == str(6 * 1024 * 1024)
        days = settings.topics.deadletter_retention_days  # a setting (default 30)
        assert configs["retention.ms"]["value"] == str(days * 24 * 3600 * 1000)
        changed = ConfigResource(ConfigResourceType.TOPIC, dead, {"retention.ms": "3600000"})
        admin.alter_configs([changed])
        # KRaft applies config changes asynchronously: wait until the broker reports it
        deadline = time.monotonic() + 30
        while True:
            now = admin.describe_configs([res])["topic"][dead]["retention.ms"]["value"]
            if now == "3600000":
                break
            assert time.monotonic() < deadline, f"retention.ms still {now} after alter"
            time.sleep(0.2)
    finally:
        admin.close()
    assert create_topics(settings)[dead] == "configs updated"
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_request_size=5_000_000)
    meta = producer.send(dead, b"x" * 3_000_000).get(timeout=30)
    producer.close()
    assert meta.topic == dead


def test_kafka_python_produce_consume(live_stack: Settings, topic: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(bootstrap_servers=live_stack.kafka_bootstrap, acks="all")
    sent = {f"k{i}".encode(): f"message {i}".encode() for i in range(20)}
    for key, value in sent.items():
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=30)
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=live_stack.kafka_bootstrap,
        group_id=f"{topic}-g",
        auto_offset_reset="earliest",
        consumer_timeout_ms=20000,
    )
    got: dict[bytes, bytes] = {}
    for msg in consumer:
        got[msg.key] = msg.value
        if len(got) == len(sent):
            break
    consumer.close()
    assert got == sent


def test_aiokafka_produce_consume(live_stack: Settings, topic: str) -> None:
    import aiokafka

    async def roundtrip() -> list[bytes]:
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers=live_stack.kafka_bootstrap)
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(topic, f"aio {i}".encode(), key=b"same-key")
        finally:
            await producer.stop()
        consumer = aiokafka.AIOKafkaConsumer(
            topic,
            bootstrap_servers=live_stack.kafka_bootstrap,
            group_id=f"{topic}-aio",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            async def read() -> None:
                async for msg in consumer:
                    got.append(msg.value)
                    if len(got) == 10:
                        return

            await asyncio.wait_for(read(), timeout=30)
        finally:
            await consumer.stop()
        return got

    # one key -> one partition -> order is kept
    assert asyncio.run(roundtrip()) == [f"aio {i}".encode() for i in range(10)]


# --- OpenSearch --------------------------------------------------------------------------


def test_opensearch_health_and_single_node(live_stack: Settings) -> None:
    health = _get_json(f"{live_stack.search_url}/_cluster/health")
    assert health["status"] in ("green", "yellow")
    assert health["number_of_nodes"] == 1
    info = _get_json(live_stack.search_url)
    assert info["version"]["distribution"] == "opensearch"


def test_opensearch_py_index_and_search(live_stack: Settings, unique_name: str) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(live_stack.search_url)
    index = f"smoke-os-{unique_name}"
    try:
        client.index(index=index, id="sms:1", body={"text": "I was charged twice for one order"})
        client.index(index=index, id="sms:2", body={"text": "Lovely staff, quick delivery"})
        client.index(index=index, id="sms:1", body={"text": "I was charged twice for one order"})
        client.indices.refresh(index=index)
        hits = client.search(index=index, body={"query": {"match": {"text": "charged"}}})
        assert [h["_id"] for h in hits["hits"]["hits"]] == ["sms:1"]
        assert client.count(index=index)["count"] == 2  # same _id twice -> one document
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)


def test_elasticsearch_client_through_proxy(
    live_stack: Settings, es_proxy_url: str, unique_name: str
) -> None:
    from elasticsearch import AsyncElasticsearch, Elasticsearch, helpers

    index = f"smoke-es-{unique_name}"
    es = Elasticsearch(es_proxy_url)
    try:
        assert es.info()["version"]["number"]
        ok, errors = helpers.bulk(
            es,
            [{"_index": index, "_id": f"sms:{i}", "text": f"waited {i} hours"} for i in range(5)],
            refresh=True,
        )
        assert (ok, errors) == (5, [])
        res = es.search(index=index, query={"match": {"text": "waited"}})
        assert res["hits"]["total"]["value"] == 5

        async def async_count() -> int:
            client = AsyncElasticsearch(es_proxy_url)
            try:
                return (await client.count(index=index))["count"]
            finally:
                await client.close()

        assert asyncio.run(async_count()) == 5
    finally:
        es.indices.delete(index=index, ignore_unavailable=True)
        es.close()


# --- Prometheus and Alertmanager --------------------------------------------------------


def test_prometheus_scrapes_a_real_target(live_stack: Settings, unique_name: str) -> None:
    """A prometheus_client exporter registered via file_sd is scraped and queryable."""
    from prometheus_client import CollectorRegistry, Counter, start_http_server

    registry = CollectorRegistry()
    counter = Counter("voc_smoke_probe", "Smoke-test probe.", ["run"], registry=registry)
    counter.labels(run=unique_name).inc(7)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    targets = Path(live_stack.stack.state_dir) / "prometheus" / "targets" / f"{unique_name}.json"
    targets.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"]}]))
    prom = f"http://127.0.0.1:{live_stack.stack.prometheus_port}"
    try:
        query = urllib.request.quote(f'voc_smoke_probe_total{{run="{unique_name}"}}')

        def scraped() -> float | None:
            result = _get_json(f"{prom}/api/v1/query?query={query}")["data"]["result"]
            return float(result[0]["value"][1]) if result else None

        assert wait_until(scraped, 90, "probe metric scraped", every=1.0) == 7.0
    finally:
        targets.unlink(missing_ok=True)
        server.shutdown()
        thread.join(timeout=5)


def test_prometheus_config_scrapes_worker_and_self(live_stack: Settings) -> None:
    prom = f"http://127.0.0.1:{live_stack.stack.prometheus_port}"
    targets = _get_json(f"{prom}/api/v1/targets")["data"]["activeTargets"]
    by_job = {t["labels"]["job"]: t for t in targets}
    assert by_job["voc-worker"]["scrapeUrl"] == (
        f"http://{live_stack.web_host}:{live_stack.web_port}/metrics"
    )

    def self_up() -> bool:
        res = _get_json(f"{prom}/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D")
        return bool(res["data"]["result"]) and res["data"]["result"][0]["value"][1] == "1"

    assert wait_until(self_up, 30, "prometheus self-scrape up", every=1.0)
    managers = _get_json(f"{prom}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [m["url"] for m in managers] == [
        f"http://127.0.0.1:{live_stack.stack.alertmanager_port}/api/v2/alerts"
    ]


def test_alertmanager_answers(live_stack: Settings) -> None:
    am = f"http://127.0.0.1:{live_stack.stack.alertmanager_port}"
    status = _get_json(f"{am}/api/v2/status")
    assert status["cluster"]["status"] in ("disabled", "ready")
    assert isinstance(_get_json(f"{am}/api/v2/alerts"), list)


# --- lifecycle ----------------------------------------------------------------------------


def test_stack_up_twice_is_harmless(live_stack: Settings) -> None:
    from streams.stack import status

    before = {s.name: s.pid for s in status(live_stack)}
    voc = [sys.executable, "-m", "streams.cli.main"]
    proc = subprocess.run([*voc, "stack", "up"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("already up") == 4
    after = {s.name: s.pid for s in status(live_stack)}
    assert after == before
    assert subprocess.run([*voc, "stack", "status"], capture_output=True).returncode == 0


def test_isolated_stack_lifecycle_leaves_no_process(tmp_path: Path) -> None:
    """Kafka, Prometheus and Alertmanager on spare ports: up, up again, down, nothing left."""
    from streams.stack import down, status, up
    from streams.stack.process import cmdline, port_open

    base = Settings()
    settings = Settings(
        topic_prefix="iso.",
        stack=StackSettings(
            cache_dir=base.stack.cache_dir,
            state_dir=tmp_path / "state",
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            prometheus_port=free_port(),
            alertmanager_port=free_port(),
            kafka_heap="256m",
        ),
        kafka_bootstrap="",
    )
    settings.kafka_bootstrap = f"127.0.0.1:{settings.stack.kafka_port}"
    only = ["kafka", "prometheus", "alertmanager"]
    lines: list[str] = []
    try:
        first = up(settings, only, report=lines.append)
        assert [s.state for s in first] == ["up", "up", "up"]
        pids = {s.name: s.pid for s in first}
        assert set(describe_topics(settings).values()) == {settings.topics.partitions}
        second = up(settings, only, report=lines.append)
        assert {s.name: s.pid for s in second} == pids
    finally:
        down(settings, only, report=lines.append)
    assert [s.state for s in status(settings, only)] == ["down", "down", "down"]
    for name, pid in pids.items():
        assert pid is not None
        assert str(tmp_path) not in cmdline(pid), f"{name} (pid {pid}) still running"
    for port in (settings.stack.kafka_port, settings.stack.prometheus_port):
        assert not port_open("127.0.0.1", port)
    assert os.path.exists(settings.stack.state_dir / "logs" / "kafka.log")


def test_failed_start_reports_the_log_and_leaves_no_process(tmp_path: Path) -> None:
    """Kafka whose controller port is taken exits; `up` says so, with its log, and cleans up."""
    from streams.stack import StackError, up
    from streams.stack.process import port_open

    base = Settings()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        settings = Settings(
            stack=StackSettings(
                cache_dir=base.stack.cache_dir,
                state_dir=tmp_path / "state",
                kafka_port=free_port(),
                kafka_controller_port=blocker.getsockname()[1],
                kafka_heap="256m",
                startup_timeout_s=120,
            ),
        )
        with pytest.raises(StackError, match="kafka exited during startup") as err:
            up(settings, ["kafka"], create_topics=False, report=lambda _line: None)
    assert "logs/kafka.log" in str(err.value)
    assert not (tmp_path / "state" / "run" / "kafka.pid").exists()
    assert not port_open("127.0.0.1", settings.stack.kafka_port)
