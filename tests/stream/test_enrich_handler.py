"""EnrichHandler: one micro-batch of raw events -> enriched, follow-ups, dead letters."""

from __future__ import annotations

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
    # by default the original stays out; its keyed hash and size stand in for it
    assert dls[0]["original_b64"] == "" and dls[0]["original_kept"] is False
    assert dls[0]["original_size"] == len(bad_json) and len(dls[0]["original_hmac"]) == 64
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


KEY = b"0123456789abcdef0123456789abcdef"


async def test_customer_ids_are_pseudonymised_everywhere_and_consistently(metrics) -> None:  # type: ignore[no-untyped-def]
    from processors.pseudonym import pseudonymise_customer

    enricher = FakeEnricher()
    contacts = RecentContacts()
    h = EnrichHandler(enricher=enricher, parse=parse, sources=SOURCES, metrics=metrics,
                      run_sync=run_now, contacts=contacts, pseudonym_key=KEY)
    events = [event(sms("SM1", customer="C1")), event(sms("SM2", "RANT", customer="C1"), 1),
              event(survey("R1"), topic=SURVEY_TOPIC, key=b"R1")]
    out = await h.handle(events)
    p1, p2 = pseudonymise_customer("C1", KEY), pseudonymise_customer("C2", KEY)
    assert p1.startswith("cid_") and p1 != p2
    enriched = [json.loads(r.value) for r in out.for_topic("enriched")]
    assert [e["customer_id"] for e in enriched] == [p1, p1, p2]
    assert [r.key for r in out.for_topic("enriched")] == [p1.encode(), p1.encode(), p2.encode()]
    (fu,) = out.for_topic("followups")
    assert fu.key == p1.encode() and json.loads(fu.value)["customer_id"] == p1
    assert b"C1" not in b"".join(r.value for r in out.records)
    # repeat contacts still count: the counter saw the same pseudonym twice
    assert enricher.calls == [(3, [1, 2, 1])]


async def test_event_times_outside_the_skew_window_become_the_broker_time(metrics) -> None:  # type: ignore[no-untyped-def]
    from processors.eventtime import SkewWindow
    from streams.handlers.common import RawEvent
    from tests.stream.conftest import SMS_TOPIC

    broker = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    window = SkewWindow(max_future=timedelta(minutes=5), max_past=timedelta(days=30))
    h = EnrichHandler(enricher=FakeEnricher(), parse=parse, sources=SOURCES, metrics=metrics,
                      run_sync=run_now, time_window=window)
    cases = {"future": "9999-12-31T23:59:59Z", "ancient": "0001-01-01T00:00:00Z",
             "edge_future": "2026-11-25T18:05:00Z", "edge_past": "2026-10-26T18:00:00Z",
             "late": "2026-11-25T18:05:01Z", "within": "2026-11-25T17:00:00Z"}
    events = [RawEvent(SMS_TOPIC, 0, i, None, sms(name, "RANT", at=at), broker.timestamp())
              for i, (name, at) in enumerate(cases.items())]
    out = await h.handle(events)
    got = {json.loads(r.value)["id"]: json.loads(r.value) for r in out.for_topic("enriched")}
    for name, at in cases.items():
        fb = got[f"sms:{name}"]
        corrected = name in ("future", "ancient", "late")
        assert fb["time_corrected"] is corrected, name
        expect = broker if corrected else datetime.fromisoformat(at)
        assert datetime.fromisoformat(fb["received_at"]) == expect, name
    followups = {json.loads(r.value)["feedback_id"]: json.loads(r.value)
                 for r in out.for_topic("followups")}
    assert followups["sms:future"]["feedback"]["time_corrected"] is True
    assert metrics.value("voc_event_time_corrected_total", {"source": "sms"}) == 3
