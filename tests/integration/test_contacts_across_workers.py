"""Repeat contacts are exact across workers and restarts, on the real Kafka and search.

Two real worker processes (``tests/support/light_worker.py``: ``voc worker`` with the test
analyzer instead of the encoder, so two fit on a small machine) share the partitions. Each
customer writes once per wave, alternately by SMS from a new phone number (keyed by that
number) and by survey (keyed by response id), so a customer's messages land on different
inbound partitions, read by different workers: the old per-process counter could not see
them together. Between the waves both workers are killed with SIGKILL and two fresh ones
start: their counts come from the changelogged table. Each message's count is read from its
"Nth contact in 7 days" urgency cue on the enriched topic (absent = first contact).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from streams.settings import Settings
from tests.support.live import free_port, require_stack, wait_until

REPO = Path(__file__).resolve().parents[2]
CUSTOMERS = [f"CUST-{i}" for i in range(8)]
WAVE_DAYS = (0.0, 2.0, 4.0, 6.0, 8.0, 9.5)  # event time of each wave, days after BASE
KILL_AFTER_WAVE = 3  # SIGKILL both workers after the 4th wave, start two new ones
_CUE = re.compile(r"^(\d+)(?:st|nd|rd|th) contact in 7 days$")


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"worker exited ({self.proc.returncode}):\n"
                        + self.log.read_text(errors="replace")[-4000:], pytrace=False)
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def messages_in(self) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("voc_messages_in_total{"))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@dataclass
class Run:
    settings: Settings
    env: dict[str, str]
    workdir: Path
    workers: list[Worker]

    def start_worker(self, extra: dict[str, str] | None = None) -> Worker:
        n = len(self.workers)
        port = free_port()
        log = self.workdir / f"worker{n}.log"
        env = {**self.env, "VOC_WEB_PORT": str(port),
               "VOC_WORKER_DATA_DIR": str(self.workdir / f"data{n}"), **(extra or {})}
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "tests.support.light_worker"],
                                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        w = Worker(proc, port, log)
        self.workers.append(w)
        return w


@pytest.fixture()
def run(tmp_path: Path) -> Iterator[Run]:
    from streams.cleanup import remove_run
    from streams.topics import create_topics

    base = Settings()
    require_stack(base)
    name = f"contacts-{uuid.uuid4().hex[:8]}"
    settings = base.model_copy(update={"topic_prefix": f"{name}.", "consumer_group": name,
                                       "search_alias": name, "search_replicas": 0})
    create_topics(settings)
    key_file = tmp_path / "pseudonym.key"  # one key for both workers, as in a deployment
    key_file.write_bytes(b"contacts-integration-test-key-0123456789\n")
    env = {**os.environ, "VOC_PSEUDONYM_KEY_FILE": str(key_file),
           "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
           "VOC_TOPIC_PREFIX": settings.topic_prefix, "VOC_CONSUMER_GROUP": name,
           "VOC_SEARCH_ALIAS": name, "VOC_SEARCH_REPLICAS": "0", "VOC_LOG_LEVEL": "INFO",
           "VOC_BATCH_WITHIN_S": "0.05"}
    r = Run(settings, env, tmp_path, [])
    try:
        yield r
    finally:
        for w in r.workers:
            w.stop()
        remove_run(settings)


def _producer(settings: Settings) -> Any:
    from kafka import KafkaProducer

    from streams.replay import producer_config

    return KafkaProducer(**producer_config(settings))


def _enriched(settings: Settings) -> list[dict[str, Any]]:
    """Every record on the enriched topic so far (plain kafka-python, not the code under test)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(settings.topic("enriched"), bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=3000)
    try:
        return [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()


def _count(doc: dict[str, Any]) -> int:
    for reason in doc["urgency"]["reasons"]:
        m = _CUE.match(reason)
        if m:
            return int(m.group(1))
    return 1


def _message(wave: int, customer: str, base: datetime, run_tag: str,
             at: datetime | None = None) -> tuple[str, str, bytes, bytes]:
    """(logical topic, feedback id, key, value) of one customer's message in ``wave``."""
    at = at or base + timedelta(days=WAVE_DAYS[wave])
    mid = f"{run_tag}-{customer}-w{wave}" + ("-future" if at > base + timedelta(days=30) else "")
    if wave % 2 == 0:
        phone = f"+4477009{CUSTOMERS.index(customer):02d}{wave:02d}{len(mid) % 10}"
        rec = {"message_id": mid, "from": phone, "body": "Is there an update on my bill?",
               "received_at": at.isoformat(), "brand": "acme", "customer_id": customer}
        return "sms_inbound", f"sms:{mid}", phone.encode(), json.dumps(rec).encode()
    rec = {"response_id": mid, "survey_id": "S1", "customer_id": customer, "brand": "acme",
           "submitted_at": at.isoformat(), "kind": "nps", "score": 8,
           "comment": "Is there an update on my bill?"}
    return "survey_replies", f"survey:{mid}", mid.encode(), json.dumps(rec).encode()


@pytest.mark.timeout(600)
def test_counts_are_exact_across_two_workers_and_survive_a_kill(run: Run) -> None:
    settings = run.settings
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    tag = uuid.uuid4().hex[:6]
    times: dict[str, tuple[str, datetime]] = {}  # feedback id -> (customer, contact time)
    expected: dict[str, int] = {}

    def expect(fid: str, customer: str, at: datetime) -> None:
        times[fid] = (customer, at)
        expected[fid] = sum(1 for cu, t in times.values()
                            if cu == customer and at - timedelta(days=7) <= t <= at)

    def send_wave(messages: list[tuple[str, str, bytes, bytes]]) -> None:
        producer = _producer(settings)
        try:
            for logical, _, key, value in messages:
                producer.send(settings.topic(logical), key=key, value=value)
        finally:
            producer.flush()
            producer.close()
        wanted = {fid for _, fid, _, _ in messages}

        def done() -> bool:
            return wanted <= {d["id"] for d in _enriched(settings)}
        wait_until(done, 180, f"{len(wanted)} enriched records", every=2)

    workers = [run.start_worker(), run.start_worker()]
    for w in workers:
        wait_until(w.healthy, 240, "a worker to be healthy", every=2)
    for wave in range(len(WAVE_DAYS)):
        if wave == KILL_AFTER_WAVE + 1:
            for w in workers:
                w.stop(signal.SIGKILL)
            workers = [run.start_worker(), run.start_worker()]
            for w in workers:
                wait_until(w.healthy, 240, "a restarted worker to be healthy", every=2)
        messages = [_message(wave, c, base, tag) for c in CUSTOMERS]
        for _, fid, _, _ in messages:
            cu = fid.split(f"{tag}-", 1)[1].rsplit("-w", 1)[0]
            expect(fid, cu, base + timedelta(days=WAVE_DAYS[wave]))
        send_wave(messages)
        if wave == 1:
            assert all(w.messages_in() > 0 for w in workers), "both workers must take part"

    # a message dated next year counts as arriving now and pushes nothing out of the window
    future = _message(0, CUSTOMERS[0], base, tag, at=datetime.now(UTC) + timedelta(days=365))
    now = datetime.now(UTC)
    expect(future[1], CUSTOMERS[0], now)
    send_wave([future])
    last_c0 = _message(len(WAVE_DAYS) - 1, CUSTOMERS[0], base, tag)[1]
    assert expected[last_c0] == 4  # days 4, 6, 8 and 9.5: day 2 fell out of its 7 days
    assert expected[future[1]] == 5  # the same four and itself, clipped to now (day 10)

    got: dict[str, set[int]] = defaultdict(set)
    for doc in _enriched(settings):
        if doc["id"] in expected:
            got[doc["id"]].add(_count(doc))
    assert {fid: counts for fid, counts in got.items() if counts != {expected[fid]}} == {}
    assert set(got) == set(expected)
    assert max(expected.values()) == 5


@pytest.mark.timeout(400)
def test_json_logs_follow_one_message_across_the_enrich_and_index_agents(run: Run) -> None:
    """``VOC_LOG_FORMAT=json``: every line of a real worker is one JSON object, the scrubber
    still masks PII, and one message's feedback id is found on the enrich agent's line (read
    from the contacts topic) and on the index agent's line (read from the enriched topic)."""
    settings = run.settings
    worker = run.start_worker({"VOC_LOG_FORMAT": "json", "VOC_LOG_LEVEL": "DEBUG"})
    wait_until(worker.healthy, 240, "the worker to be healthy", every=2)
    mid = f"json-{uuid.uuid4().hex[:8]}"
    phone = "+447700900461"
    rec = {"message_id": mid, "from": phone, "body": f"call me back on {phone} please",
           "received_at": datetime.now(UTC).isoformat(), "brand": "acme", "customer_id": "CJ"}
    producer = _producer(settings)
    try:
        producer.send(settings.topic("sms_inbound"), key=phone.encode(),
                      value=json.dumps(rec).encode())
        producer.send(settings.topic("sms_inbound"), key=b"bad", value=b"not json")
    finally:
        producer.flush()
        producer.close()

    def lines() -> list[dict[str, Any]]:
        out = []
        for line in worker.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def followed() -> set[str]:
        return {str(x.get("topic")) for x in lines() if x.get("feedback_id") == f"sms:{mid}"}

    wait_until(lambda: {settings.topic("contacts"), settings.topic("enriched")} <= followed(),
               180, "the message's id on the enrich and the index agents' lines", every=2)
    seen = [x for x in lines() if x.get("feedback_id") == f"sms:{mid}"]
    for x in seen:
        assert x["logger"] == "streams.agents" and x["level"] == "DEBUG"
        assert isinstance(x["partition"], int) and isinstance(x["offset"], int)
    everything = lines()
    assert len(everything) > 20 and all({"time", "level", "logger", "message"} <= set(x)
                                         for x in everything)
    # the bad record's dead letter names where it was read, and nothing echoes the phone
    assert any("dead-lettered" in str(x["message"]) for x in everything)
    assert "7700900461" not in worker.log.read_text(errors="replace")
