"""Data minimisation and time sanity against the real Kafka on :9092.

* ``voc topics create`` (the CLI, as an operator runs it) gives the dead-letter topic the
  configured retention, puts it back when the setting changes, and makes the inbound
  topics stamp records with the broker's time (``LogAppendTime``);
* records whose own time is far in the future, ancient, or within the window go through a
  real broker (which stamps them) and the enrich handler: the first two come out with the
  broker's time and ``time_corrected``, the third as sent; follow-up deadlines follow the
  event time; bad input is parked with a keyed hash and no original.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from processors.config import EnrichConfig
from processors.pipeline import Enricher, parse_inbound
from processors.pseudonym import pseudonymise_customer
from streams.deadletter import DeadLetterPolicy, original_hmac
from streams.handlers.common import RawEvent
from streams.handlers.enrich import EnrichHandler
from streams.metrics import Metrics
from streams.settings import Settings
from streams.topics import create_topics, delete_topics, kafka_client_kwargs
from tests.support.live import wait_until
from tests.unit.fake_analyzer import FakeAnalyzer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
DAY_MS = 24 * 3600 * 1000
KEY = b"integration-pseudonym-key-0123456789"


def _topic_configs(settings: Settings, logical: str) -> dict[str, str]:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    name = settings.topic(logical)
    admin = KafkaAdminClient(**kafka_client_kwargs(settings))
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        return {k: v["value"] for k, v in described["topic"][name].items()}
    finally:
        admin.close()


def _voc_topics_create(prefix: str, env: dict[str, str]) -> str:
    cmd = [sys.executable, "-m", "streams.cli.main", "topics", "create"]
    full = {**os.environ, "PYTHONPATH": str(ROOT), "VOC_TOPIC_PREFIX": prefix, **env}
    done = subprocess.run(cmd, env=full, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture()
def prefix(live_stack: Settings) -> Iterator[str]:
    p = f"min-{uuid.uuid4().hex[:8]}."
    try:
        yield p
    finally:
        delete_topics(Settings(topic_prefix=p))


def test_voc_topics_create_applies_the_dead_letter_retention_setting(prefix: str) -> None:
    settings = Settings(topic_prefix=prefix)
    _voc_topics_create(prefix, {"VOC_TOPICS__DEADLETTER_RETENTION_DAYS": "14"})
    dead = _topic_configs(settings, "deadletter")
    assert dead["retention.ms"] == str(14 * DAY_MS)
    for logical in ("sms_inbound", "survey_replies"):
        assert _topic_configs(settings, logical)["message.timestamp.type"] == "LogAppendTime"
    assert _topic_configs(settings, "enriched").get("message.timestamp.type",
                                                   "CreateTime") == "CreateTime"
    # the setting, not a hard-coded 90 days, is what a re-run restores (default: 30 days)
    out = _voc_topics_create(prefix, {})
    assert "configs updated" in out

    def applied() -> bool:  # KRaft applies config changes asynchronously
        return _topic_configs(settings, "deadletter")["retention.ms"] == str(30 * DAY_MS)

    wait_until(applied, 30, "the default dead-letter retention to be applied")


def _produce_and_read(settings: Settings, records: list[bytes]) -> list[Any]:
    from kafka import KafkaConsumer, KafkaProducer

    topic = settings.topic("sms_inbound")
    producer = KafkaProducer(**kafka_client_kwargs(settings), acks="all")
    try:
        for value in records:
            producer.send(topic, value=value, key=b"+447700900123")
        producer.flush(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(topic, **kafka_client_kwargs(settings), group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)
    got: list[Any] = []
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    try:
        while len(got) < len(records) and datetime.now(UTC) < deadline:
            got.extend(consumer)
    finally:
        consumer.close()
    assert len(got) == len(records)
    return got


def _sms(mid: str, at: str, body: str, customer: str = "C-77") -> bytes:
    return json.dumps({"message_id": mid, "from": "+447700900123", "body": body,
                       "received_at": at, "brand": "acme", "customer_id": customer}).encode()


def test_event_times_are_checked_against_the_brokers_timestamp(prefix: str) -> None:
    settings = Settings(topic_prefix=prefix)
    create_topics(settings)
    now = datetime.now(UTC)
    rant = "You charged me twice!!! I'm cancelling and going to the ombudsman, disgraceful"
    sent = {
        "future": _sms("future", "9999-12-31T23:59:59Z", rant),
        "ancient": _sms("ancient", "0001-01-01T00:00:00Z", rant),
        "soon": _sms("soon", (now + timedelta(minutes=2)).isoformat(), rant),
        "hour_ago": _sms("hour_ago", (now - timedelta(hours=1)).isoformat(), rant),
        "bad": b'{"message_id": "bad", "body": "call 07700 900123"',
    }
    records = _produce_and_read(settings, list(sent.values()))
    assert all(r.timestamp_type == 1 for r in records)  # LogAppendTime: the broker's clock
    # exactly what the worker's agent hands the handler (streams.agents.raw_event)
    events = [RawEvent(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp / 1000.0)
              for r in records]
    broker = {mid: datetime.fromtimestamp(r.timestamp / 1000, UTC)
              for mid, r in zip(sent, records, strict=True)}
    metrics = Metrics(CollectorRegistry())
    handler = EnrichHandler(
        enricher=Enricher(EnrichConfig(), FakeAnalyzer()), parse=parse_inbound,
        sources={settings.topic("sms_inbound"): "sms"}, metrics=metrics,
        pseudonym_key=KEY, time_window=settings.event_time_window(),
        deadletters=DeadLetterPolicy(hash_key=KEY))
    out = asyncio.run(handler.handle(events))

    enriched = {json.loads(r.value)["id"]: json.loads(r.value) for r in out.for_topic("enriched")}
    assert set(enriched) == {"sms:future", "sms:ancient", "sms:soon", "sms:hour_ago"}
    for mid in ("future", "ancient"):
        fb = enriched[f"sms:{mid}"]
        assert fb["time_corrected"] is True
        assert datetime.fromisoformat(fb["received_at"]) == broker[mid]
    for mid in ("soon", "hour_ago"):
        fb = enriched[f"sms:{mid}"]
        assert fb["time_corrected"] is False
        assert datetime.fromisoformat(fb["received_at"]) != broker[mid]
    # the deadline runs from the (checked) event time, never from year 9999 or year 1
    followups = {json.loads(r.value)["feedback_id"]: json.loads(r.value)
                 for r in out.for_topic("followups")}
    hours = EnrichConfig().urgency.followup_hours
    for mid, fu in followups.items():
        due = datetime.fromisoformat(fu["due_by"])
        start = datetime.fromisoformat(enriched[mid]["received_at"])
        assert due == start + timedelta(hours=hours[fu["priority"]]), mid
    assert "sms:future" in followups
    # customer ids are pseudonyms; the contact counter still links them (4 contacts)
    pseudonym = pseudonymise_customer("C-77", KEY)
    assert {fb["customer_id"] for fb in enriched.values()} == {pseudonym}
    assert {r.key for r in out.for_topic("enriched")} == {pseudonym.encode()}
    (dead,) = [json.loads(r.value) for r in out.for_topic("deadletter")]
    assert dead["original_b64"] == "" and dead["original_hmac"] == original_hmac(sent["bad"], KEY)
    assert "07700" not in json.dumps(dead)
    assert metrics.value("voc_event_time_corrected_total", {"source": "sms"}) == 2
