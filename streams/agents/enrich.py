"""Enrich agent: inbound SMS and survey replies in, enriched feedback, follow-ups and
dead letters out.

The agent is a thin loop over ``stream.noack_take``; all the logic is in
``EnrichHandler.handle`` (plain async, unit-tested without Kafka). One Enricher
call per micro-batch runs on the handler's own enrichment thread, so the event loop
keeps heartbeating to Kafka while the encoder works. It is one dedicated thread, not
the loop's shared default pool: calls run one after another, whoever else uses that
pool, and the encoder spreads each batch over the cores itself (processors/encoder.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.records import InboundSMS, SurveyReply
from streams.agents.common import Outputs, RawEvent
from streams.deadletter import build_deadletter, deadletter_bytes, describe_error

log = logging.getLogger(__name__)

CONTACT_WINDOW = timedelta(days=7)

RunSync = Callable[..., Awaitable[Any]]


class EnrichThread:
    """One dedicated thread for blocking enrichment work, calls run one after another.

    Awaiting a call keeps the event loop free; a second call waits in the queue until
    the first is done (never two model calls at once).
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voc-enrich")

    async def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Let the thread end once its queued work is done (shutdown)."""
        self._pool.shutdown(wait=False)


class RecentContacts:
    """Per-customer contact times over the last 7 days, for "3rd contact in 7 days".

    Kept in this worker's memory (an LRU over ``max_customers``), not in a Faust
    table: the inbound topics are keyed by sender / response id, not by customer,
    so a customer's messages can land on different partitions and a partitioned
    table could not see them all without a repartition hop. Limitation: with
    several workers, or after a restart, a customer's count covers only what this
    worker has seen since it started. Times are the messages' own timestamps, so a
    replay of old data counts the way it happened, and the same message id is
    never counted twice.
    """

    def __init__(self, max_customers: int = 200_000, window: timedelta = CONTACT_WINDOW) -> None:
        self._seen: OrderedDict[str, deque[tuple[datetime, str]]] = OrderedDict()
        self._max = max_customers
        self._window = window

    def observe(self, customer: str | None, message_id: str, at: datetime) -> int:
        """Record one contact; return how many contacts (this one included) fall in the
        window ending at ``at``. 0 when the customer is unknown."""
        if not customer:
            return 0
        times = self._seen.get(customer)
        if times is None:
            times = self._seen[customer] = deque()
            if len(self._seen) > self._max:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(customer)
        if all(mid != message_id for _, mid in times):
            times.append((at, message_id))
        newest = max(t for t, _ in times)
        while times and times[0][0] < newest - self._window:
            times.popleft()
        lo = at - self._window
        return sum(1 for t, _ in times if lo <= t <= at)


def _customer_and_time(item: InboundSMS | SurveyReply) -> tuple[str | None, str, datetime]:
    if isinstance(item, SurveyReply):
        return item.customer_id, f"survey:{item.response_id}", item.submitted_at
    return item.customer_id or item.sender, f"sms:{item.message_id}", item.received_at


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


class EnrichHandler:
    """Turns one micro-batch of raw inbound events into output records.

    Never raises for bad data: invalid input and enrichment failures become dead
    letters, so nothing is lost and the batch can be acked once the outputs are out.
    """

    def __init__(
        self,
        *,
        enricher: Any,
        parse: Callable[[bytes, str], InboundSMS | SurveyReply],
        sources: Mapping[str, str],
        metrics: Any,
        contacts: RecentContacts | None = None,
        run_sync: RunSync | None = None,
    ) -> None:
        """``sources`` maps a full topic name to its channel ("sms" or "survey")."""
        self.enricher = enricher
        self.parse = parse
        self.sources = dict(sources)
        self.metrics = metrics
        self.contacts = contacts or RecentContacts()
        self.run_sync: RunSync = run_sync or EnrichThread()

    def _dead(self, out: Outputs, ev: RawEvent, reason: str, error: str) -> None:
        dl = build_deadletter(
            source_topic=ev.topic,
            partition=ev.partition,
            offset=ev.offset,
            key=ev.key,
            reason=reason,
            error=error,
            original=ev.value,
        )
        out.add("deadletter", ev.topic, deadletter_bytes(dl))
        self.metrics.deadletter.labels(reason=reason).inc()
        log.info("dead-lettered %s[%s]@%s: %s", ev.topic, ev.partition, ev.offset, reason)

    def _emit(self, out: Outputs, result: Any) -> None:
        fb = result.feedback
        out.add("enriched", fb.customer_id or fb.id, fb.model_dump_json().encode("utf-8"))
        self.metrics.enriched.labels(channel=fb.channel, sentiment=fb.sentiment.label).inc()
        fu = getattr(result, "followup", None)
        if fu is not None:
            out.add("followups", fu.customer_id or fu.id, fu.model_dump_json().encode("utf-8"))
            self.metrics.rants.labels(priority=fu.priority).inc()

    async def handle(self, events: Sequence[RawEvent]) -> Outputs:
        """Parse, enrich (one Enricher call), and build every output of the batch."""
        out = Outputs()
        valid: list[tuple[RawEvent, InboundSMS | SurveyReply]] = []
        for ev in events:
            source = self.sources.get(ev.topic, "sms")
            self.metrics.messages_in.labels(source=source).inc()
            if not ev.value:
                self._dead(out, ev, "empty_message", "record value is empty or null")
                continue
            try:
                valid.append((ev, self.parse(ev.value, source)))
            except Exception as exc:
                reason = getattr(exc, "reason", None) or "invalid_input"
                self._dead(out, ev, str(reason), describe_error(exc))
        if not valid:
            return out

        counts = []
        for _, item in valid:
            customer, mid, at = _customer_and_time(item)
            counts.append(self.contacts.observe(customer, mid, _aware(at)))
        items = [item for _, item in valid]

        self.metrics.enrich_batch_size.observe(len(items))
        started = time.perf_counter()
        try:
            results = await self.run_sync(
                self.enricher.enrich_batch, items, recent_contacts=counts
            )
            if len(results) != len(items):
                raise RuntimeError(f"enricher returned {len(results)} for {len(items)} items")
        except Exception:
            log.exception("batch enrichment failed for %d items; retrying one by one", len(items))
            results = None
        self.metrics.enrich_batch_seconds.observe(time.perf_counter() - started)

        if results is not None:
            for result in results:
                self._emit(out, result)
            return out

        for (ev, item), count in zip(valid, counts, strict=True):
            try:
                (result,) = await self.run_sync(
                    self.enricher.enrich_batch, [item], recent_contacts=[count]
                )
            except Exception as exc:
                self._dead(out, ev, "enrich_error", f"enrichment failed: {type(exc).__name__}")
                continue
            self._emit(out, result)
        return out
