"""The whole pipeline against the real local stack (``voc stack up``): Kafka + OpenSearch.

A real ``voc worker`` subprocess (real encoder, real agents) with its own topic prefix,
alias, consumer group, web port and data dir, so parallel runs never collide. N good and
M bad records are replayed; the test then checks, with bounded polling:

* exactly N documents in the alias, with exactly the expected ids;
* every rant in the index has its FollowUp on ``voc.followups`` (and nothing else does);
* every bad record is on ``voc.deadletter`` with a reason and its keyed hash (no original);
* customer ids are pseudonyms; year-9999 and year-1 messages carry the broker's time,
  flagged ``time_corrected``, in the current month's index;
* ``/metrics`` counters match those numbers and ``/health`` says ok;
* replaying the same file again leaves exactly N documents (``_id`` = feedback id).

If Kafka or OpenSearch is not up the test fails loudly (no skip).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors.pseudonym import pseudonymise_customer
from streams.deadletter import original_hmac
from streams.probe import http_json
from streams.replay import producer_config, replay
from streams.settings import Settings
from tests.support.live import free_port, metric_sum, require_stack, voc_process, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

GOOD_SMS = [
    "This is the THIRD time you have charged me twice for the same order. I am furious, "
    "cancel my contract today or I am going to the ombudsman!",
    "Thanks so much, the engineer was lovely and fixed my broadband in ten minutes",
    "Parcel still not delivered after two weeks, nobody answers the phone, absolutely useless",
    "ok thanks",
    "The app keeps crashing when I try to pay my bill, really annoying",
    "Been on hold for 90 minutes. Disgraceful service. I want a refund and I'm leaving.",
    "Great price on the new plan, happy with it",
    "my internet has been down since monday and i work from home, this is a disaster!!!",
]
GOOD_SURVEY = [
    ("nps", 0, "Worst company I have ever dealt with. Overcharged, lied to, and hung up on."),
    ("nps", 10, "Brilliant support, quick and friendly"),
    ("csat", 2, "Delivery was late and the box was damaged"),
    ("ces", 5, ""),
]
BAD_LINES = [
    b"{this is not json",
    json.dumps({"message_id": "BAD1", "body": "no sender, no date"}).encode(),
    json.dumps({"response_id": "BADR1", "survey_id": "S", "customer_id": "C", "brand": "b",
                "submitted_at": "2026-11-25T18:00:00Z", "kind": "nps", "score": 42,
                "comment": "score out of range"}).encode(),
    json.dumps({"message_id": "BAD2", "from": "+447700900111", "body": "hi", "brand": "b",
                "received_at": "2026-11-25T18:00:00Z", "schema_version": 99}).encode(),
    b"\xff\xfe\xfa invalid utf-8",
    json.dumps(["a", "list"]).encode(),
]


MISDATED = {"FUTURE": "9999-12-31T23:59:59Z", "ANCIENT": "0001-01-01T00:00:00Z"}


def build_input(run: str) -> tuple[list[bytes], set[str]]:
    """Good and bad lines (good first, bad interleaved) and the expected feedback ids."""
    lines: list[bytes] = []
    ids: set[str] = set()
    for i, body in enumerate(GOOD_SMS):
        mid = f"{run}-SM{i}"
        ids.add(f"sms:{mid}")
        lines.append(json.dumps({
            "message_id": mid, "from": f"+4477009{i:05d}", "to": "+447700900000", "body": body,
            "received_at": "2026-11-25T18:00:00Z", "brand": "acme-mobile",
            "customer_id": f"{run}-C{i % 3}"}).encode())
    for i, (kind, score, comment) in enumerate(GOOD_SURVEY):
        rid = f"{run}-R{i}"
        ids.add(f"survey:{rid}")
        lines.append(json.dumps({
            "response_id": rid, "survey_id": "S1", "customer_id": f"{run}-C{i}",
            "brand": "acme-mobile", "submitted_at": "2026-11-25T18:05:00Z", "kind": kind,
            "score": score, "comment": comment}).encode())
    for label, at in MISDATED.items():  # a gateway with a broken clock
        mid = f"{run}-{label}"
        ids.add(f"sms:{mid}")
        lines.append(json.dumps({
            "message_id": mid, "from": "+447700900999", "body": "fine thanks",
            "received_at": at, "brand": "acme-mobile", "customer_id": f"{run}-C0"}).encode())
    for j, bad in enumerate(BAD_LINES):
        lines.insert(2 * j + 1, bad)
    return lines, ids


def read_topic(settings: Settings, topic: str, expect: int, timeout: float = 60.0) -> list[Any]:
    """Every record of ``topic`` (from the beginning), waiting until at least ``expect``."""
    from kafka import KafkaConsumer

    cfg = producer_config(settings)
    consumer = KafkaConsumer(topic, bootstrap_servers=cfg["bootstrap_servers"],
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=3000)
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            records.extend(consumer)
            if len(records) >= expect:
                break
    finally:
        consumer.close()
    return records


@pytest.fixture(scope="module")
def stack() -> Settings:
    base = Settings()
    require_stack(base)
    return base


@pytest.fixture(scope="module")
def pipeline(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Topics + a worker subprocess with unique names; torn down whatever happens."""
    from streams.cleanup import remove_run
    from streams.topics import create_topics

    run = uuid.uuid4().hex[:8]
    workdir = tmp_path_factory.mktemp(f"e2e-{run}")
    env_overrides = {
        "VOC_TOPIC_PREFIX": f"e2e-{run}.",
        "VOC_SEARCH_ALIAS": f"voc-e2e-{run}",
        "VOC_CONSUMER_GROUP": f"voc-e2e-{run}",
        "VOC_WEB_PORT": str(free_port()),
        "VOC_WORKER_DATA_DIR": str(workdir / "worker"),
        "VOC_PSEUDONYM_KEY_FILE": str(_key_file(workdir)),
        "VOC_SEARCH_REPLICAS": "0",
        "VOC_BATCH_WITHIN_S": "0.1",
    }
    settings = Settings(
        topic_prefix=env_overrides["VOC_TOPIC_PREFIX"],
        search_alias=env_overrides["VOC_SEARCH_ALIAS"],
        consumer_group=env_overrides["VOC_CONSUMER_GROUP"],
        web_port=int(env_overrides["VOC_WEB_PORT"]),
        search_replicas=0,
    )
    create_topics(settings)
    log_path = workdir / "worker.log"
    base_url = f"http://127.0.0.1:{settings.web_port}"
    try:
        with voc_process("worker", {**os.environ, **env_overrides}, log_path,
                         lambda: http_json(base_url + "/health")[0] == 200,
                         timeout=240, every=1.0) as proc:
            yield {"settings": settings, "proc": proc, "base_url": base_url, "run": run,
                   "log": log_path}
    finally:
        remove_run(settings)


PSEUDONYM_KEY = b"e2e-pseudonym-key-0123456789abcdef"


def _key_file(workdir: Any) -> Any:
    path = workdir / "pseudonym.key"
    path.write_bytes(PSEUDONYM_KEY + b"\n")  # a trailing newline is not part of the key
    return path


def _replay(settings: Settings, lines: list[bytes]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**producer_config(settings))
    try:
        summary = replay(lines, producer, settings)
    finally:
        producer.close()
    assert summary.sent == len(lines) and summary.failed == 0, summary.as_dict()


async def _index_state(settings: Settings) -> tuple[int, set[str], set[str]]:
    """(count, all ids, rant ids) behind the alias, after a refresh; zeros until the worker
    has installed the alias (its index agent does that on start, maybe after the replay)."""
    from elasticsearch import NotFoundError as ESNotFound
    from opensearchpy.exceptions import NotFoundError as OSNotFound

    from streams.search import make_backend

    backend = make_backend(settings)
    try:
        try:
            await backend.refresh()
        except (ESNotFound, OSNotFound):
            return 0, set(), set()
        count = await backend.count()
        hits = await backend.search("*", size=1000)
        rants = await backend.search("*", rants=True, size=1000)
        return count, {h.id for h in hits}, {h.id for h in rants}
    finally:
        await backend.close()


def _check_misdated(settings: Settings, run: str) -> None:
    """Year 9999 and year 1 were replaced by the broker's time and say so; neither opened
    a monthly index of its own."""
    import httpx

    ids = [f"sms:{run}-{label}" for label in MISDATED]
    resp = httpx.post(f"{settings.search_url}/{settings.search_alias}/_search",
                      json={"query": {"ids": {"values": ids}}}, timeout=30)
    hits = resp.json()["hits"]["hits"]
    assert sorted(h["_id"] for h in hits) == sorted(ids)
    now = datetime.now(UTC)
    for h in hits:
        assert h["_source"]["time_corrected"] is True, h["_id"]
        at = datetime.fromisoformat(h["_source"]["received_at"].replace("Z", "+00:00"))
        assert abs(now - at) < timedelta(hours=1), (h["_id"], at)
        assert h["_index"].endswith(now.strftime("%Y.%m")), h["_index"]
    cat = httpx.get(f"{settings.search_url}/_cat/indices/{settings.search_alias}-*",
                    params={"format": "json"}, timeout=30).json()
    assert not [i["index"] for i in cat if i["index"].endswith(("9999.12", "0001.01"))]


def test_replay_good_and_bad_end_to_end(pipeline: dict[str, Any]) -> None:
    settings: Settings = pipeline["settings"]
    lines, expected_ids = build_input(pipeline["run"])
    n_good, n_bad = len(expected_ids), len(BAD_LINES)
    _replay(settings, lines)

    count = wait_until(
        lambda: (c := asyncio.run(_index_state(settings))[0]) == n_good and c, 240,
        f"{n_good} documents in {settings.search_alias}")
    count, ids, rant_ids = asyncio.run(_index_state(settings))
    assert count == n_good
    assert ids == expected_ids
    assert rant_ids, "the furious messages in the input should be rants"
    _check_misdated(settings, pipeline["run"])

    followups = [json.loads(r.value) for r in
                 read_topic(settings, settings.topic("followups"), len(rant_ids))]
    assert {f["feedback_id"] for f in followups} == rant_ids
    assert all(f["id"] == f"followup:{f['feedback_id']}" and f["suggested_reply"]
               for f in followups)

    dead = [json.loads(r.value) for r in
            read_topic(settings, settings.topic("deadletter"), n_bad)]
    assert len(dead) == n_bad
    assert all(d["reason"] and d["error"] for d in dead)
    # by default no original is kept: a keyed hash (matchable) and a redacted preview
    assert all(d["original_b64"] == "" and d["original_kept"] is False for d in dead)
    assert sorted(d["original_hmac"] for d in dead) == sorted(
        original_hmac(line, PSEUDONYM_KEY) for line in BAD_LINES)
    # customer ids travel as pseudonyms under the configured key, keys included
    assert all(f["customer_id"] is None or f["customer_id"].startswith("cid_")
               for f in followups)
    assert {f["customer_id"] for f in followups} <= {
        pseudonymise_customer(f"{pipeline['run']}-C{i}", PSEUDONYM_KEY)
        for i in range(len(GOOD_SMS))}

    def metrics_settled() -> str | None:
        status, text = http_json(pipeline["base_url"] + "/metrics")
        if status == 200 and metric_sum(text, "voc_index_docs_total", result="ok") >= n_good:
            return text
        return None

    text = wait_until(metrics_settled, 60, "index counters on /metrics")
    assert metric_sum(text, "voc_messages_in_total") == n_good + n_bad
    assert metric_sum(text, "voc_enriched_total") == n_good
    assert metric_sum(text, "voc_deadletter_total") == n_bad
    assert metric_sum(text, "voc_rants_total") == len(rant_ids)
    assert metric_sum(text, "voc_index_docs_total", result="ok") == n_good
    assert metric_sum(text, "voc_end_to_end_seconds_count") == n_good

    status, health = http_json(pipeline["base_url"] + "/health")
    assert status == 200 and health["kafka"]["ok"] and health["search"]["ok"]

    # Every input was acked after its outputs were out, so the group commits up to the end:
    # the worker's lag gauge (sampled every 10 s) reaches 0 on the topics it consumes.
    consumed = [settings.topic(t) for t in ("sms_inbound", "survey_replies", "enriched")]

    def caught_up() -> bool:
        status, text = http_json(pipeline["base_url"] + "/metrics")
        return status == 200 and all(
            f'voc_consumer_lag{{topic="{t}"}} 0.0' in text for t in consumed)

    wait_until(caught_up, 60, "committed offsets to reach the end of the input topics")

    # Replaying the same file: same ids, so still exactly N documents.
    _replay(settings, lines)

    def replay_indexed() -> str | None:
        status, text = http_json(pipeline["base_url"] + "/metrics")
        if status == 200 and metric_sum(text, "voc_index_docs_total", result="ok") >= 2 * n_good:
            return text
        return None

    text = wait_until(replay_indexed, 240, "the replay to be indexed")
    assert metric_sum(text, "voc_messages_in_total") == 2 * (n_good + n_bad)
    count, ids, _ = asyncio.run(_index_state(settings))
    assert count == n_good and ids == expected_ids


def _send(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**producer_config(settings))
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def test_followup_sla_breach_and_outcomes(pipeline: dict[str, Any]) -> None:
    """An overdue follow-up is counted as breached exactly once; a resolved one leaves the
    open set; the open gauge follows."""
    settings: Settings = pipeline["settings"]
    run = pipeline["run"]

    def metrics_text() -> str:
        status, text = http_json(pipeline["base_url"] + "/metrics")
        assert status == 200
        return str(text)

    def quiet() -> str | None:  # follow-ups of earlier tests may still be arriving
        first = metrics_text()
        time.sleep(6)  # longer than one SLA scan
        second = metrics_text()
        same = all(metric_sum(first, m) == metric_sum(second, m)
                   for m in ("voc_followups_open", "voc_followup_sla_breaches_total"))
        return second if same else None

    text = wait_until(quiet, 90, "the follow-up gauges to settle", every=0)
    breaches_before = metric_sum(text, "voc_followup_sla_breaches_total")
    open_before = metric_sum(text, "voc_followups_open")
    followups = []
    # SLA0 is overdue and stays open; SLA1 is not due and gets resolved; SLA2 is not due
    for i, due in enumerate(("2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z",
                             "2099-01-01T00:00:00Z")):
        fid = f"followup:sms:{run}-SLA{i}"
        followups.append((f"C{i}".encode(), json.dumps({
            "id": fid, "feedback_id": f"sms:{run}-SLA{i}", "customer_id": f"C{i}",
            "priority": "P1", "due_by": due}).encode()))
    _send(settings, settings.topic("followups"), followups)
    outcomes = [
        {"followup_id": f"followup:sms:{run}-SLA1", "outcome": "resolved",
         "at": "2026-11-25T19:00:00Z"},
        {"followup_id": f"followup:sms:{run}-SLA2", "outcome": "contacted",
         "at": "2026-11-25T19:00:00Z"},
    ]
    _send(settings, settings.topic("followup_outcomes"),
          [(o["followup_id"].encode(), json.dumps(o).encode()) for o in outcomes])

    def settled() -> bool:
        t = metrics_text()
        return (metric_sum(t, "voc_followup_sla_breaches_total") == breaches_before + 1
                and metric_sum(t, "voc_followups_open") == open_before + 2)

    wait_until(settled, 60, "one breach counted and two more follow-ups open")
    time.sleep(11)  # two more SLA scans: a breach is never counted twice
    text = metrics_text()
    assert metric_sum(text, "voc_followup_sla_breaches_total") == breaches_before + 1
    assert metric_sum(text, "voc_followups_open") == open_before + 2


def test_faust_table_and_router_views_are_off(pipeline: dict[str, Any]) -> None:
    """A follow-up in the open-follow-ups table is not served over HTTP: Faust's /table/
    (table rows) and /router/ (cluster topology) views answer 404 on a real worker, while
    our /health and /metrics still answer."""
    settings: Settings = pipeline["settings"]
    base = pipeline["base_url"]
    fid = f"followup:sms:{pipeline['run']}-WEB"

    def open_now() -> float:
        status, text = http_json(base + "/metrics")
        assert status == 200
        return metric_sum(str(text), "voc_followups_open")

    before = open_now()
    _send(settings, settings.topic("followups"), [(b"CWEB", json.dumps({
        "id": fid, "feedback_id": f"sms:{pipeline['run']}-WEB", "customer_id": "CWEB",
        "priority": "P2", "due_by": "2099-01-01T00:00:00Z"}).encode())])
    wait_until(lambda: open_now() >= before + 1, 60, "the follow-up in the table")

    for path in ("/table/", "/table/open-followups/", f"/table/open-followups/{fid}/",
                 "/router/", f"/router/open-followups/{fid}/", "/graph/", "/assignment/"):
        status, body = http_json(base + path)
        assert status == 404, f"{path} answered {status}: {str(body)[:200]}"
        assert fid not in str(body)
    assert http_json(base + "/health")[0] == 200
