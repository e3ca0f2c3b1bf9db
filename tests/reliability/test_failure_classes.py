"""Failure classes through a real worker: permanent failures are dead-lettered once and the
partition moves on, blocked and hung servers are waited out, and nothing is lost.

* a permanently failing publish: the enriched topic's ``max.message.bytes`` is set below
  the size of some enriched records (a real broker config), so the broker refuses those
  records for good;
* a poison message that costs CPU: hostile bodies that took seconds to clean, among
  ordinary traffic, with ``/health`` polled all along;
* index rejections: enriched records the search engine refuses (mapping errors);
* a read-only index: ``index.blocks.write`` on the live index mid-stream, then lifted;
* a hung search node: the worker reaches the search engine through a proxy process that
  is SIGSTOPped (connections accepted, never answered) and later SIGCONTinued.

Each test checks the usual guarantees (``check_delivery``: every valid message indexed
exactly once, every bad payload dead-lettered) and appends its figures to
``bench/results/reliability.json``.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from tests.reliability.harness import (
    REPO,
    Scenario,
    check_delivery,
    metric_sum,
    record_figures,
    wait_until,
)
from tests.reliability.messages import Message, make_messages

#: Above the worker producer's batch size (Faust's 16 KiB), so ordinary records batched
#: together still fit; below an enriched record whose text is 5,000 four-byte emoji.
ENRICHED_MAX_BYTES = 18_000
#: Ports for this module's own servers (the shared stack owns 9092/9200).
PROXY_PORT = 29_400
#: These tests match dead letters to what was sent by their original bytes, so their
#: workers keep them (an operator's choice; by default dead letters keep a preview and a
#: keyed hash once data minimisation is in).
KEEP_ORIGINALS = {"VOC_DEADLETTER_KEEP_ORIGINAL": "true"}


def _sms(run: str, n: int, body: str, at: str = "2026-11-25T09:00:00Z") -> Message:
    mid = f"SM-{run}-x{n}"
    rec = {"message_id": mid, "from": "+447700900999", "body": body, "received_at": at,
           "brand": "acme-mobile", "customer_id": f"CX{n}"}
    return Message("sms", mid.encode(), json.dumps(rec, ensure_ascii=False).encode(),
                   f"sms:{mid}")


def _set_topic_config(sc: Scenario, logical: str, configs: dict[str, str]) -> None:
    """Alter a topic's configs on the broker, and wait until the broker reports them."""
    admin = KafkaAdminClient(bootstrap_servers=sc.settings.kafka_bootstrap)
    resource = ConfigResource(ConfigResourceType.TOPIC, sc.topic(logical), configs=configs)
    try:
        def applied() -> bool:
            admin.alter_configs([resource])
            got = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC,
                                                         sc.topic(logical))])
            entries = got["topic"][sc.topic(logical)]
            return all(entries[k]["value"] == v for k, v in configs.items())

        wait_until(applied, 60, 2.0, what=f"{logical} topic configs {configs}")
    finally:
        admin.close()


def _health_poller(base: str) -> tuple[threading.Event, list[tuple[float, int]]]:
    """Poll ``/health`` every 0.5 s until the event is set: (seconds, status) per poll;
    status 0 when nothing answered within 5 s."""
    stop = threading.Event()
    seen: list[tuple[float, int]] = []

    def run() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = httpx.get(base + "/health", timeout=5.0).status_code
            except httpx.HTTPError:
                status = 0
            seen.append((time.monotonic() - started, status))
            stop.wait(0.5)

    threading.Thread(target=run, daemon=True, name="health-poller").start()
    return stop, seen


def _search(sc: Scenario, path: str, body: dict[str, Any] | None = None,
            method: str = "PUT") -> httpx.Response:
    base = sc.settings.search_url.rstrip("/")
    r = httpx.request(method, f"{base}/{path}", json=body, timeout=30.0)
    r.raise_for_status()
    return r


# --------------------------------------------------------------------------- tests


def test_output_too_large_for_its_topic_is_dead_lettered_not_retried(scenario: Scenario
                                                                     ) -> None:
    _set_topic_config(scenario, "enriched", {"max.message.bytes": str(ENRICHED_MAX_BYTES)})
    worker = scenario.add_worker(KEEP_ORIGINALS).start()
    worker.wait_healthy()
    normal = make_messages(300, scenario.run)
    huge = [_sms(scenario.run, i, "\U0001F642" * 6000) for i in range(5)]  # 5,000 kept: 20 KB
    messages = normal[:150] + huge + normal[150:]
    scenario.produce(messages)

    valid_normal = [m for m in normal if m.feedback_id]
    took = scenario.wait_for_index(len(valid_normal), timeout_s=300, messages=valid_normal)

    def rejected() -> list[dict[str, Any]]:
        return [d for d in scenario.deadletters() if d["reason"] == "publish_rejected"]

    wait_until(lambda: {base64.b64decode(d["original_b64"]) for d in rejected()}
               >= {m.value for m in huge}, 120, 2.0,
               what="a publish_rejected dead letter per oversized enriched record")
    dls = rejected()
    # each names the inbound record its refused output came from, with its bytes
    assert {base64.b64decode(d["original_b64"]) for d in dls} == {m.value for m in huge}
    assert all(d["source_topic"] == scenario.topic("sms_inbound") for d in dls)
    assert all(scenario.topic("enriched") in d["error"] and "MessageSizeTooLarge" in d["error"]
               for d in dls), dls[0]["error"]
    ids = {(d["partition"], d["offset"]) for d in dls}

    # the partitions moved on: every inbound record is committed, nothing still retried
    def committed() -> bool:
        progress = scenario.group_progress()
        return all(c == end for logical in ("sms_inbound", "survey_replies")
                   for c, end in progress[logical].values())

    wait_until(committed, 120, 2.0, what="every inbound record committed")
    samples = worker.metrics()
    assert metric_sum(samples, "voc_publish_errors_total") >= len(huge)
    assert samples.get('voc_deadletter_total{reason=publish_rejected}', 0) >= len(huge)
    assert worker.alive and worker.health()[0] == 200

    # the oversized messages are not indexed (their enriched record never existed);
    # everything else is, exactly once
    figures = check_delivery(scenario, [m for m in messages if m not in huge]
                             + [Message(m.source, m.key, m.value, None) for m in huge])
    record_figures("publish_too_large", {
        **figures, "oversized": len(huge), "publish_rejected": len(ids),
        "enriched_max_bytes": ENRICHED_MAX_BYTES, "all_indexed_s": round(took, 1),
        "worker_alive": worker.alive})


def test_cpu_poison_message_is_cut_off_worker_stays_healthy(scenario: Scenario) -> None:
    """Hostile bodies that cost seconds of CPU in normalize / redact before those were made
    linear: the per-message budget cuts them off (``too_costly``), or, once the cleaning
    is cheap, they are simply enriched; either way ``/health`` answers all along and every
    ordinary message is indexed exactly once."""
    worker = scenario.add_worker({**KEEP_ORIGINALS, "VOC_MESSAGE_BUDGET_S": "0.5",
                                  "VOC_MESSAGE_BUDGET_WALL_S": "2"}).start()
    worker.wait_healthy()
    poison = [
        _sms(scenario.run, 0, "a" + "\u200d" * 32_000 + "b"),  # 96 KB of zero-width joiners
        _sms(scenario.run, 1, "mail me " + "1" * 40_000 + "@"),  # digits for the e-mail rule
        _sms(scenario.run, 2, ("\u200d" * 3 + "x") * 20_000),
    ]
    normal = make_messages(200, scenario.run)
    messages = normal[:50] + poison + normal[50:]
    stop, polls = _health_poller(worker.base)
    try:
        scenario.produce(messages)
        valid_normal = [m for m in normal if m.feedback_id]
        took = scenario.wait_for_index(len(valid_normal), timeout_s=300, messages=valid_normal)

        def settled() -> bool:
            dead = {d["offset"] for d in scenario.deadletters()
                    if d["reason"] == "too_costly"}
            indexed = set(scenario.index_ids())
            return len(dead) + len(indexed & {m.feedback_id for m in poison}) >= len(poison)

        wait_until(settled, 180, 2.0, what="every poison message dead-lettered or indexed")
    finally:
        stop.set()
    too_costly = [d for d in scenario.deadletters() if d["reason"] == "too_costly"]
    cut = {base64.b64decode(d["original_b64"]) for d in too_costly}
    indexed = set(scenario.index_ids())
    outcome = {m.feedback_id: ("too_costly" if m.value in cut else
                               "indexed" if m.feedback_id in indexed else "lost")
               for m in poison}
    assert "lost" not in outcome.values(), outcome
    assert all(d["error"] and "VOC_MESSAGE_BUDGET" in d["error"] for d in too_costly)
    # /health answered every poll, within the poll's 5 s, all along
    assert polls and all(status in (200, 503) for _, status in polls), polls
    assert worker.alive and worker.health()[0] == 200
    expected = [m if m not in poison or outcome[m.feedback_id] == "indexed"
                else Message(m.source, m.key, m.value, None) for m in messages]
    figures = check_delivery(scenario, expected)
    samples = worker.metrics()
    record_figures("cpu_poison", {
        **figures, "poison": len(poison), "outcomes": dict(Counter(outcome.values())),
        "health_polls": len(polls), "health_unanswered": sum(1 for _, s in polls if s == 0),
        "health_slowest_s": round(max(t for t, _ in polls), 3),
        "message_cost_count": samples.get("voc_message_cost_seconds_count", 0),
        "all_indexed_s": round(took, 1), "worker_alive": worker.alive})


def test_index_rejections_go_to_the_deadletter_topic(scenario: Scenario) -> None:
    """Enriched records the engine refuses for good (a date that is not one, a score that
    is not a number) are dead-lettered as index_rejected with their bytes; the valid ones
    around them are indexed exactly once."""
    worker = scenario.add_worker(KEEP_ORIGINALS).start()
    worker.wait_healthy()
    messages = make_messages(200, scenario.run)
    scenario.produce(messages)
    valid = [m for m in messages if m.feedback_id]
    scenario.wait_for_index(len(valid), timeout_s=300, messages=valid)

    enriched = [json.loads(v) for _, v in scenario.read_topic("enriched")]
    template = next(e for e in enriched if e["channel"] == "sms")
    bad_date = dict(template, id=f"sms:SM-{scenario.run}-bad-date",
                    received_at="2026-11-25T09:00:00Z", enriched_at="not a date at all")
    bad_score = dict(template, id=f"sms:SM-{scenario.run}-bad-score",
                     sentiment={"label": "negative", "score": "very"})
    rejects = [json.dumps(bad_date).encode(), json.dumps(bad_score).encode()]
    good = dict(template, id=f"sms:SM-{scenario.run}-direct-ok")
    prod = scenario.producer()
    try:
        for value in [*rejects, json.dumps(good).encode()]:
            prod.send(scenario.topic("enriched"), key=b"CX", value=value).get(timeout=60)
    finally:
        prod.close(timeout=30)

    wait_until(lambda: len([d for d in scenario.deadletters()
                            if d["reason"] == "index_rejected"]) >= len(rejects), 120, 2.0,
               what="the rejected documents on the dead-letter topic")
    scenario.wait_for_index(len(valid) + 1, timeout_s=120)
    dls = [d for d in scenario.deadletters() if d["reason"] == "index_rejected"]
    assert sorted(base64.b64decode(d["original_b64"]) for d in dls) == sorted(rejects)
    assert all(d["source_topic"] == scenario.topic("enriched") for d in dls)
    assert all(d["error"].startswith("search status 400") for d in dls), dls
    ids = scenario.index_ids()
    assert good["id"] in ids and bad_date["id"] not in ids and bad_score["id"] not in ids
    samples = worker.metrics()
    assert samples.get('voc_index_docs_total{result=error}', 0) == len(rejects)
    assert samples.get('voc_deadletter_total{reason=index_rejected}', 0) == len(rejects)
    figures = check_delivery(scenario, [*messages, Message("sms", None, rejects[0], None),
                                        Message("sms", None, rejects[1], None),
                                        Message("sms", None, b"", good["id"])])
    record_figures("index_rejections", {**figures, "index_rejected": len(dls),
                                        "worker_alive": worker.alive})


def test_read_only_index_waits_then_nothing_lost(scenario: Scenario) -> None:
    """A write block on the live feedback index mid-stream (what an operator, or the
    flood-stage disk watermark, does): the worker neither drops nor dead-letters, it waits
    (``voc_index_docs_total{result="blocked"}``); once the block is lifted the backlog
    drains and every message is indexed exactly once."""
    worker = scenario.add_worker().start()
    worker.wait_healthy()
    messages = make_messages(400, scenario.run)
    first, rest = messages[:100], messages[100:]
    scenario.produce(first)
    scenario.wait_for_index(sum(1 for m in first if m.feedback_id), timeout_s=240)

    alias = scenario.settings.search_alias
    _search(scenario, f"{alias}/_settings", {"index.blocks.write": True})
    blocked_at = time.monotonic()
    try:
        before = scenario.index_count()
        scenario.produce(rest)
        wait_until(lambda: worker.metrics().get('voc_index_docs_total{result=blocked}', 0) > 0,
                   120, 2.0, what="the worker meeting the write block")
        time.sleep(10)  # a few more retries against the block
        during = scenario.index_count()
        assert during == before, "documents were written through a write block"
        rejected = [d for d in scenario.deadletters() if d["reason"] == "index_rejected"]
        assert not rejected, "a blocked document was dead-lettered instead of waited for"
        assert worker.alive
    finally:
        _search(scenario, f"{alias}/_settings", {"index.blocks.write": None})
    blocked_s = time.monotonic() - blocked_at
    valid = [m for m in messages if m.feedback_id]
    drained = scenario.wait_for_index(len(valid), timeout_s=300, messages=valid)
    figures = check_delivery(scenario, messages)
    samples = worker.metrics()
    record_figures("read_only_index", {
        **figures, "blocked_s": round(blocked_s, 1), "drained_s": round(drained, 1),
        "blocked_results": samples.get('voc_index_docs_total{result=blocked}', 0),
        "worker_alive": worker.alive})


@pytest.fixture
def hung_proxy(scenario: Scenario, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The Elasticsearch-compatibility proxy (tests/support/es_proxy.py) in its own process
    on ``PROXY_PORT``, in front of the shared OpenSearch: the worker's one way to search,
    and a process the test can freeze."""
    log = (tmp_path / "proxy.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.es_proxy",
                             scenario.settings.search_url, str(PROXY_PORT)], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{PROXY_PORT}/"), 30, 0.5,
                   what="the proxy answering")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_hung_search_node_is_waited_out_nothing_lost(scenario: Scenario,
                                                     hung_proxy: subprocess.Popen[bytes]
                                                     ) -> None:
    """The worker's search endpoint stops answering without closing anything (SIGSTOP:
    connections are accepted by the kernel and never served) for 45 s mid-stream, then
    resumes. Requests time out and are retried, ``/health`` keeps answering (503 while
    search hangs), nothing is dropped or dead-lettered, and every message is indexed
    exactly once after SIGCONT - including bulk requests the frozen proxy serves late."""
    worker = scenario.add_worker({
        "VOC_SEARCH_URL": f"http://127.0.0.1:{PROXY_PORT}", "VOC_SEARCH_BACKEND": "elasticsearch",
        "VOC_SEARCH_TIMEOUT_S": "3", "VOC_SEARCH_RETRY_MAX_S": "5"}).start()
    worker.wait_healthy()
    messages = make_messages(600, scenario.run)
    first, rest = messages[:150], messages[150:]
    scenario.produce(first)
    scenario.wait_for_index(sum(1 for m in first if m.feedback_id), timeout_s=240)

    stop, polls = _health_poller(worker.base)
    hung_proxy.send_signal(signal.SIGSTOP)
    try:
        before = scenario.index_count()
        thread, state = scenario.produce_in_background(rest, rate=20)
        time.sleep(45)
        during = scenario.index_count()  # direct to OpenSearch, not through the proxy
        retries = worker.metrics().get("voc_index_retries_total", 0)
        health_during = [s for _, s in polls]
    finally:
        hung_proxy.send_signal(signal.SIGCONT)
    thread.join(300)
    stop.set()
    assert state["error"] is None, state["error"]
    assert during == before, "documents reached the index while its node was hung"
    assert retries > 0, "the hung requests were never timed out and retried"
    assert health_during and 0 not in health_during, "/health stopped answering"
    assert 503 in health_during, "/health never reported the hung search engine"
    valid = [m for m in messages if m.feedback_id]
    drained = scenario.wait_for_index(len(valid), timeout_s=300, messages=valid)
    figures = check_delivery(scenario, messages)
    assert not [d for d in scenario.deadletters() if d["reason"] == "index_rejected"]
    record_figures("hung_search_node", {
        **figures, "hung_s": 45, "index_retries_during": retries,
        "health_503_polls": health_during.count(503), "drained_after_cont_s": round(drained, 1),
        "worker_alive": worker.alive})


def test_future_and_ancient_timestamps_survive_a_crash_corrected_once(scenario: Scenario
                                                                      ) -> None:
    """Year-9999 and year-1 messages among ordinary traffic, with the worker killed -9
    mid-stream and restarted: each misdated message is indexed exactly once, carries the
    broker's time with ``time_corrected``, opens no month index of its own, and its
    follow-up deadline (if a rant) runs from the corrected time, not from year 9999 or 1."""
    worker = scenario.add_worker(KEEP_ORIGINALS).start()
    worker.wait_healthy()
    angry = "This is unacceptable, cancel my contract NOW, {}"
    misdated = ([_sms(scenario.run, i, angry.format(i), at="9999-12-31T23:59:59Z")
                 for i in range(5)]
                + [_sms(scenario.run, 100 + i, f"thanks, all sorted {i}",
                        at="0001-01-01T00:00:00Z") for i in range(5)]
                + [_sms(scenario.run, 200 + i, f"ok {i}", at="2999-01-01T00:00:00Z")
                   for i in range(5)])
    normal = make_messages(400, scenario.run)
    messages = normal[:100] + misdated[:8] + normal[100:300] + misdated[8:] + normal[300:]
    sent_from = time.time()
    scenario.produce(messages)
    first = [m for m in messages[:200] if m.feedback_id]
    scenario.wait_for_index(len(first) // 2, timeout_s=300, messages=first)
    worker.kill9()
    restarted = scenario.restart_worker(worker)
    restarted.wait_healthy()
    valid = [m for m in messages if m.feedback_id]
    took = scenario.wait_for_index(len(valid), timeout_s=400, messages=valid)
    figures = check_delivery(scenario, messages)

    base = scenario.settings.search_url.rstrip("/")
    ids = [m.feedback_id for m in misdated]
    r = httpx.post(f"{base}/{scenario.name}/_search", timeout=30.0, json={
        "size": 100, "query": {"ids": {"values": ids}},
        "_source": ["received_at", "time_corrected"]})
    r.raise_for_status()
    hits = r.json()["hits"]["hits"]
    assert sorted(h["_id"] for h in hits) == sorted(ids)
    for h in hits:
        assert h["_source"]["time_corrected"] is True, h
        at = datetime.fromisoformat(h["_source"]["received_at"].replace("Z", "+00:00"))
        assert sent_from - 600 <= at.timestamp() <= time.time() + 60, h
    indices = httpx.get(f"{base}/_cat/indices/{scenario.name}-*",
                        params={"format": "json"}, timeout=30.0).json()
    assert not [i["index"] for i in indices
                if any(y in i["index"] for y in ("9999.", "0001.", "2999."))], indices

    # rants among them: the deadline runs from the corrected time, within hours of now
    fu = httpx.post(f"{base}/{scenario.settings.alias('followups')}/_search", timeout=30.0,
                    json={"size": 100, "query": {"terms": {"feedback_id": ids[:5]}}})
    fu.raise_for_status()
    for h in fu.json()["hits"]["hits"]:
        due = datetime.fromisoformat(h["_source"]["due_by"].replace("Z", "+00:00"))
        assert due.timestamp() <= time.time() + 8 * 86_400, h["_source"]
    corrected = metric_sum(restarted.metrics(), "voc_event_time_corrected_total")
    assert corrected >= 1  # the restarted worker corrected those it (re)read
    record_figures("misdated_timestamps_kill9", {
        **figures, "misdated": len(misdated), "all_indexed_s": round(took, 1),
        "corrected_after_restart": corrected})
