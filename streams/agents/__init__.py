"""The worker's agents, one concern per module, wired onto a Faust app here.

Each agent is a short loop: take a micro-batch of events (``noack_take``), call the
module's plain handler, publish its outputs and wait for the broker, and only then ack
the batch's events. Faust's ``take``/``take_events`` ack a batch in a ``finally`` when
the generator is closed, so a batch interrupted by shutdown or an exception would be
acked without its outputs; with explicit acks an interrupted batch is simply read
again after the restart (at least once; outputs carry stable ids). Handlers never
raise for bad data; if one raises anyway (a bug), the batch is dead-lettered with
reason ``internal_error`` rather than lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import faust

from streams.agents.common import Outputs, OutRecord, RawEvent, backoff_delay, publish_all
from streams.agents.enrich import EnrichHandler, RecentContacts
from streams.agents.followups import (
    apply_followup_op,
    breach_op,
    route_followup_event,
    scan_followups,
)
from streams.agents.index import IndexHandler
from streams.app import RAW, contract_topic
from streams.deadletter import build_deadletter, deadletter_bytes
from streams.settings import Settings

log = logging.getLogger(__name__)

FOLLOWUP_SCAN_INTERVAL_S = 5.0
LAG_SAMPLE_INTERVAL_S = 10.0
# Bulk requests of up to 4 enrich batches: fewer, larger requests cost the search engine
# (which shares the CPU with the encoder on small machines) less per document.
INDEX_BATCH_FACTOR = 4


def _parse_inbound() -> Callable[[bytes, str], Any]:
    from processors.pipeline import parse_inbound

    return parse_inbound


def _internal_error(events: Sequence[RawEvent], exc: BaseException, metrics: Any) -> Outputs:
    out = Outputs()
    for ev in events:
        dl = build_deadletter(
            source_topic=ev.topic, partition=ev.partition, offset=ev.offset, key=ev.key,
            reason="internal_error", error=type(exc).__name__, original=ev.value,
        )
        out.add("deadletter", ev.topic, deadletter_bytes(dl))
        metrics.deadletter.labels(reason="internal_error").inc()
    return out


def register_all(
    app: faust.App, settings: Settings, *, enricher: Any, backend: Any, metrics: Any,
    parse: Callable[[bytes, str], Any] | None = None,
) -> dict[str, Any]:
    """Define the enrich, index and follow-up agents (and the SLA timer) on ``app``."""
    topics = {
        name: contract_topic(app, settings, name)
        for name in (
            "sms_inbound", "survey_replies", "enriched", "followups",
            "followup_outcomes", "deadletter",
        )
    }
    state_topic = app.topic(
        f"{settings.topic_prefix}{settings.consumer_group}-followup-state",
        key_serializer=RAW, value_serializer=RAW, internal=True,
        partitions=settings.topics.partitions,
    )
    outputs = {**topics, "state": state_topic}

    async def send(rec: OutRecord) -> Awaitable[Any]:
        return await outputs[rec.topic].send(key=rec.key, value=rec.value)

    def on_retry(attempt: int, exc: BaseException) -> None:
        log.warning("producer retry %d: %s", attempt, type(exc).__name__)

    async def run_batch(
        stream: faust.StreamT, events: Sequence[Any],
        handle: Callable[[list[RawEvent]], Awaitable[Outputs]],
    ) -> None:
        raw = [RawEvent.from_faust(e) for e in events]
        try:
            out = await handle(raw)
        except Exception as exc:  # a bug: park the batch, never lose it
            log.exception("handler failed on a batch of %d", len(raw))
            out = _internal_error(raw, exc, metrics)
        await publish_all(out.records, send, on_retry=on_retry)
        for event in events:  # outputs are on Kafka: now the inputs may be committed
            await stream.ack(event)

    sources = {
        settings.topic("sms_inbound"): "sms",
        settings.topic("survey_replies"): "survey",
    }
    enrich_handler = EnrichHandler(
        enricher=enricher, parse=parse or _parse_inbound(), sources=sources,
        metrics=metrics, contacts=RecentContacts(),
    )
    index_handler = IndexHandler(backend=backend, metrics=metrics)
    inbound = app.topic(
        settings.topic("sms_inbound"), settings.topic("survey_replies"),
        key_serializer=RAW, value_serializer=RAW, internal=False,
    )
    followup_in = app.topic(
        settings.topic("followups"), settings.topic("followup_outcomes"),
        key_serializer=RAW, value_serializer=RAW, internal=False,
    )
    open_followups = app.Table(
        "open-followups", default=None, partitions=settings.topics.partitions,
        # json both ways: keys come back as str (not bytes) when the changelog is replayed
        schema=faust.Schema(key_serializer="json", value_serializer="json"),
    )

    # concurrency=1: several actors on one take() buffer lose acks (faust #606). Overlapping
    # batches inside the one actor was measured too (bench/pipeline.py --compare): no gain on
    # 2 cores, so one batch at a time.
    @app.agent(inbound, name="enrich", concurrency=1)
    async def enrich_agent(stream: faust.StreamT) -> None:
        async for events in stream.noack_take(settings.batch_size, settings.batch_within_s):
            await run_batch(stream, events, enrich_handler.handle)

    @app.agent(topics["enriched"], name="index", concurrency=1)
    async def index_agent(stream: faust.StreamT) -> None:
        attempt = 0
        while True:  # install template + alias before the first document
            try:
                await backend.ensure_index()
                metrics.search_up.set(1)
                break
            except Exception as exc:
                metrics.search_up.set(0)
                log.warning("search not ready (%s); retrying", type(exc).__name__)
                await asyncio.sleep(backoff_delay(min(attempt, 8), cap=10.0))
                attempt += 1
        async for events in stream.noack_take(
            settings.batch_size * INDEX_BATCH_FACTOR, settings.batch_within_s
        ):
            await run_batch(stream, events, index_handler.handle)

    followups_topic = settings.topic("followups")

    async def route(events: list[RawEvent]) -> Outputs:
        out = Outputs()
        for ev in events:
            part = route_followup_event(ev, followups_topic=followups_topic)
            for rec in part.records:
                if rec.topic == "deadletter":
                    reason = json_reason(rec.value)
                    metrics.deadletter.labels(reason=reason).inc()
            out.records.extend(part.records)
        return out

    @app.agent(followup_in, name="followup-intake", concurrency=1)
    async def followup_intake(stream: faust.StreamT) -> None:
        async for events in stream.noack_take(settings.batch_size, settings.batch_within_s):
            await run_batch(stream, events, route)

    breach_sent: set[str] = set()

    @app.agent(state_topic, name="followup-state", concurrency=1)
    async def followup_state(stream: faust.StreamT) -> None:
        import json

        async for value in stream:
            try:
                op = json.loads(value)
            except ValueError:
                continue
            result = apply_followup_op(open_followups, op)
            if result == "breached":
                metrics.followup_sla_breaches.inc()
            if op.get("op") == "breach" or result in ("closed",):
                breach_sent.discard(str(op.get("id")))

    @app.timer(FOLLOWUP_SCAN_INTERVAL_S, name="followup-sla")
    async def followup_sla() -> None:
        open_count, overdue = scan_followups(list(open_followups.items()), datetime.now(UTC))
        metrics.followups_open.set(open_count)
        for fid in overdue:
            if fid in breach_sent:
                continue
            breach_sent.add(fid)
            await state_topic.send(key=fid.encode("utf-8"), value=breach_op(fid))

    contract_topics = {settings.topic(n) for n in topics}

    @app.timer(LAG_SAMPLE_INTERVAL_S, name="consumer-lag")
    async def consumer_lag() -> None:
        try:
            consumer = app.consumer
            assigned = [tp for tp in consumer.assignment() if tp.topic in contract_topics]
            ends = await consumer.highwaters(*assigned) if assigned else {}
            committed = {tp: consumer._committed_offset.get(tp) for tp in assigned}
        except Exception as exc:  # consumer not ready / rebalancing: sample next time
            log.debug("lag sample skipped: %s", type(exc).__name__)
            return
        for topic, lag in lag_by_topic(ends, committed).items():
            metrics.consumer_lag.labels(topic=topic).set(lag)

    return {
        "topics": topics, "state_topic": state_topic, "table": open_followups,
        "agents": (enrich_agent, index_agent, followup_intake, followup_state),
    }


def lag_by_topic(ends: Mapping[Any, int | None], committed: Mapping[Any, int | None]
                 ) -> dict[str, int]:
    """Records not yet committed per topic: sum over partitions of end - committed offset."""
    out: dict[str, int] = {}
    for tp, end in ends.items():
        done = committed.get(tp) or 0
        out[tp.topic] = out.get(tp.topic, 0) + max(0, (end or 0) - done)
    return out


def json_reason(value: bytes) -> str:
    """The ``reason`` field of a serialized dead letter."""
    import json

    try:
        return str(json.loads(value).get("reason", "unknown"))
    except ValueError:
        return "unknown"
