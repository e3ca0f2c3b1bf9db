"""EnrichHandler: one micro-batch of raw events -> enriched, follow-ups, dead letters."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from streams.contacts import RecentContacts
from streams.handlers.enrich import EnrichHandler
from tests.stream.conftest import (
    SOURCES,
    SURVEY_TOPIC,
    FakeEnricher,
    event,
    parse,
    run_now,
    sms,
    survey,
)


def handler(enricher: FakeEnricher, metrics) -> EnrichHandler:  # type: ignore[no-untyped-def]
    return EnrichHandler(enricher=enricher, parse=parse, sources=SOURCES, metrics=metrics,
                         run_sync=run_now)


async def test_valid_batch_is_enriched_in_one_call(metrics) -> None:  # type: ignore[no-untyped-def]
    enricher = FakeEnricher()
    events = [event(sms("SM1")), event(sms("SM2", "RANT charged twice"), offset=1),
              event(survey("R1"), topic=SURVEY_TOPIC, offset=0, key=b"R1")]
    out = await handler(enricher, metrics).handle(events)

    assert [n for n, _ in enricher.calls] == [3]
    enriched = [json.loads(r.value) for r in out.for_topic("enriched")]
    assert [e["id"] for e in enriched] == ["sms:SM1", "sms:SM2", "survey:R1"]
    assert [r.key for r in out.for_topic("enriched")] == [b"C1", b"C1", b"C2"]
    followups = out.for_topic("followups")
    assert [json.loads(r.value)["feedback_id"] for r in followups] == ["sms:SM2"]
    assert followups[0].key == b"C1"
    assert out.for_topic("deadletter") == []
    assert metrics.value("voc_messages_in_total", {"source": "sms"}) == 2
    assert metrics.value("voc_messages_in_total", {"source": "survey"}) == 1
    assert metrics.value("voc_enriched_total", {"channel": "sms", "sentiment": "negative"}) == 1
    assert metrics.value("voc_rants_total", {"priority": "P1"}) == 1
    assert metrics.value("voc_enrich_batch_seconds_count") == 1
    # each taxonomy subject per brand, for the VocTopicSpike business alert
    assert metrics.value("voc_subject_mentions_total", {"brand": "acme", "subject": "billing"}) == 1


async def test_bad_input_is_dead_lettered_with_reason_and_bytes(metrics) -> None:  # type: ignore[no-untyped-def]
    bad_json = b"{not json"
    missing = json.dumps({"message_id": "SM9"}).encode()
    events = [event(bad_json, offset=5), event(sms("SM1"), offset=6), event(missing, offset=7),
              event(None, offset=8)]
    out = await handler(FakeEnricher(), metrics).handle(events)

    dls = [json.loads(r.value) for r in out.for_topic("deadletter")]
    assert [d["reason"] for d in dls] == ["invalid_json", "invalid_record", "empty_message"]
    assert [d["offset"] for d in dls] == [5, 7, 8]
    assert base64.b64decode(dls[0]["original_b64"]) == bad_json
    assert all(d["key"] == "[REDACTED]" for d in dls)  # the sender's phone is not copied
    assert len(out.for_topic("enriched")) == 1
    assert metrics.value("voc_deadletter_total", {"reason": "invalid_json"}) == 1


async def test_batch_failure_falls_back_to_one_by_one(metrics) -> None:  # type: ignore[no-untyped-def]
    enricher = FakeEnricher(fail_batches=True)
    events = [event(sms("SM1"), offset=0), event(sms("SM2", "BOOM"), offset=1),
              event(sms("SM3"), offset=2)]
    out = await handler(enricher, metrics).handle(events)

    assert [n for n, _ in enricher.calls] == [3, 1, 1, 1]
    assert [json.loads(r.value)["id"] for r in out.for_topic("enriched")] == ["sms:SM1", "sms:SM3"]
    (dl,) = [json.loads(r.value) for r in out.for_topic("deadletter")]
    assert dl["reason"] == "enrich_error" and dl["offset"] == 1
    assert "BOOM" not in dl["error"]


async def test_recent_contacts_are_counted_within_the_batch(metrics) -> None:  # type: ignore[no-untyped-def]
    enricher = FakeEnricher()
    events = [event(sms(f"SM{i}", at=f"2026-11-2{i}T10:00:00Z"), offset=i) for i in range(1, 4)]
    events.append(event(sms("SM1", at="2026-11-21T10:00:00Z"), offset=9))  # a replay: no recount
    await handler(enricher, metrics).handle(events)
    assert enricher.calls[0][1] == [1, 2, 3, 1]


def test_recent_contacts_window_is_seven_days() -> None:
    rc = RecentContacts()
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    assert rc.observe("C1", "a", t0) == 1
    assert rc.observe("C1", "b", t0 + timedelta(days=3)) == 2
    assert rc.observe("C1", "c", t0 + timedelta(days=9)) == 2  # "a" fell out of the window
    assert rc.observe(None, "d", t0) == 0


def test_recent_contacts_lru_is_bounded() -> None:
    rc = RecentContacts(max_customers=2)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for c in ("A", "B", "C"):
        rc.observe(c, c, t0)
    assert rc.observe("A", "A2", t0) == 1  # A was evicted


async def test_enrich_thread_runs_calls_one_at_a_time_off_the_loop() -> None:
    """Overlapping batches queue for the one enrichment thread: never two model calls at once."""
    import asyncio
    import threading
    import time

    from streams.handlers.enrich import EnrichThread

    active, peak, threads = 0, 0, set()
    guard = threading.Lock()

    def work(i: int, *, delay: float) -> int:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        threads.add(threading.current_thread().name)
        time.sleep(delay)
        with guard:
            active -= 1
        return i

    runner = EnrichThread()
    ticks = 0

    async def ticker() -> None:  # the event loop stays free while the thread works
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    tick_task = asyncio.ensure_future(ticker())
    results = await asyncio.gather(*(runner(work, i, delay=0.05) for i in range(4)))
    tick_task.cancel()
    runner.close()

    assert results == [0, 1, 2, 3]
    assert peak == 1
    assert len(threads) == 1 and next(iter(threads)).startswith("voc-enrich")
    assert threading.current_thread().name not in threads
    assert ticks >= 10
