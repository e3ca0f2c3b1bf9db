"""A real ``voc worker`` enriches and indexes end to end on secured transports only:
Kafka over SASL_SSL (SCRAM-SHA-512) or mTLS, the search engine over TLS with basic auth or
an API key, every secret from a ``*_FILE`` setting. Nothing is reachable in plain text."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest

from streams.probe import http_json
from streams.replay import producer_config, replay
from streams.settings import Settings
from tests.integration.secured.conftest import Secured
from tests.support.live import free_port, voc_process, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

MESSAGES = [
    "I have been charged twice this month and nobody answers the phone. Cancel my contract!",
    "Thanks, the engineer fixed my broadband quickly",
    "The parcel is a week late and the tracking page is broken",
]


def _lines(run: str) -> tuple[list[bytes], set[str]]:
    lines, ids = [], set()
    for i, body in enumerate(MESSAGES):
        mid = f"{run}-SM{i}"
        ids.add(f"sms:{mid}")
        lines.append(json.dumps({
            "message_id": mid, "from": f"+4477009{i:05d}", "to": "+447700900000", "body": body,
            "received_at": "2026-11-25T18:00:00Z", "brand": "acme-mobile",
            "customer_id": f"{run}-C{i}"}).encode())
    return lines, ids


async def _indexed(settings: Settings) -> set[str]:
    from streams.search import make_backend

    backend = make_backend(settings)
    try:
        try:
            await backend.refresh()
        except Exception:  # noqa: BLE001 - no index yet: the worker has not written
            return set()
        return {h.id for h in await backend.search("*", size=100)}
    finally:
        await backend.close()


def _enriched(settings: Settings) -> list[dict[str, object]]:
    from kafka import KafkaConsumer

    from streams.topics import kafka_client_kwargs

    consumer = KafkaConsumer(settings.topic("enriched"), auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=3000, **kafka_client_kwargs(settings))
    try:
        return [json.loads(r.value) for r in consumer]
    finally:
        consumer.close()


@pytest.mark.parametrize("mode", ["sasl_ssl+basic_auth", "mtls+api_key"])
def test_worker_enriches_and_indexes_over_secured_transports(
        secured: Secured, mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka import KafkaProducer

    from streams.cleanup import remove_run
    from streams.topics import create_topics

    run = uuid.uuid4().hex[:8]
    kafka_env = secured.sasl_env() if mode.startswith("sasl") else secured.mtls_env()
    search_env = (secured.search_basic_env() if mode.endswith("basic_auth")
                  else secured.search_api_key_env())
    env = {**kafka_env, **search_env,
           "VOC_TOPIC_PREFIX": f"sec-{run}.", "VOC_SEARCH_ALIAS": f"voc-sec-{run}",
           "VOC_CONSUMER_GROUP": f"voc-sec-{run}", "VOC_WEB_PORT": str(free_port()),
           "VOC_WORKER_DATA_DIR": str(tmp_path / "worker"), "VOC_SEARCH_REPLICAS": "0",
           "VOC_BATCH_WITHIN_S": "0.1"}
    for key in [k for k in os.environ if k.upper().startswith("VOC_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # this test reads the same variables (and secret files) as the worker
    assert settings.search_url.startswith("https://")
    create_topics(settings)
    lines, ids = _lines(run)
    log = tmp_path / "worker.log"
    base_url = f"http://127.0.0.1:{settings.web_port}"
    try:
        with voc_process("worker", dict(os.environ), log,
                         lambda: http_json(base_url + "/health")[0] == 200,
                         timeout=300, every=1.0):
            producer = KafkaProducer(**producer_config(settings))
            try:
                summary = replay(lines, producer, settings)
            finally:
                producer.close()
            assert summary.sent == len(lines) and summary.failed == 0, summary.as_dict()
            wait_until(lambda: asyncio.run(_indexed(settings)) == ids, 240,
                       f"{len(ids)} documents indexed over TLS in {settings.search_alias}")
            enriched = _enriched(settings)
            assert {e["id"] for e in enriched} == ids
            assert all(e["sentiment"]["label"] for e in enriched)  # type: ignore[index]
            status, health = http_json(base_url + "/health")
            assert status == 200, health
    finally:
        remove_run(settings)
    text = log.read_text(errors="replace")
    for secret_file in (secured.kafka_password_file, secured.search_password_file,
                        secured.search_api_key_file):
        assert secured.secret(secret_file) not in text


@pytest.mark.parametrize("bad", ["password", "ca"])
def test_worker_reports_refused_search_credentials_and_unknown_ca(
        secured: Secured, bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker whose search password is wrong (or that does not trust the engine's CA)
    keeps running, says so on /health, and logs why on every retry, never the secret."""
    from kafka import KafkaProducer

    from streams.topics import create_topics, delete_internal_topics, delete_topics

    run = uuid.uuid4().hex[:8]
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-search-password\n")
    search_env = secured.search_basic_env()
    if bad == "password":
        search_env["VOC_SEARCH_PASSWORD_FILE"] = str(wrong)
    else:
        search_env["VOC_SEARCH_CA_CERTS"] = str(secured.pki.rogue_ca)
    env = {**secured.sasl_env(), **search_env,
           "VOC_TOPIC_PREFIX": f"sec-{run}.", "VOC_SEARCH_ALIAS": f"voc-sec-{run}",
           "VOC_CONSUMER_GROUP": f"voc-sec-{run}", "VOC_WEB_PORT": str(free_port()),
           "VOC_WORKER_DATA_DIR": str(tmp_path / "worker"), "VOC_SEARCH_REPLICAS": "0",
           "VOC_BATCH_WITHIN_S": "0.1", "VOC_SEARCH_RETRY_MAX_S": "2"}
    for key in [k for k in os.environ if k.upper().startswith("VOC_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    create_topics(settings)
    log = tmp_path / "worker.log"
    base_url = f"http://127.0.0.1:{settings.web_port}"
    expected = ("the engine refused our credentials" if bad == "password"
                else "TLS certificate not trusted")
    try:
        with voc_process("worker", dict(os.environ), log,
                         lambda: http_json(base_url + "/health")[0] in (200, 503),
                         timeout=300, every=1.0):
            status, health = http_json(base_url + "/health")
            assert status == 503 and health["search"]["ok"] is False, health  # type: ignore[index]
            assert health["kafka"]["ok"] is True, health  # type: ignore[index]
            producer = KafkaProducer(**producer_config(settings))
            try:
                replay(_lines(run)[0][:1], producer, settings)
            finally:
                producer.close()
            wait_until(lambda: expected in log.read_text(errors="replace"), 120,
                       f"the worker to log {expected!r}")
    finally:
        delete_topics(settings)
        delete_internal_topics(settings)
    assert "not-the-search-password" not in log.read_text(errors="replace")
