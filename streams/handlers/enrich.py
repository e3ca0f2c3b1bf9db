"""Enrich handler: inbound SMS and survey replies in, enriched feedback, follow-ups and
dead letters out.

Before anything sees a parsed record, ``_prepare`` makes it fit to keep: its
``customer_id`` becomes the keyed pseudonym (``processors.pseudonym``), so keys, records,
the index and the contact counter all carry the same pseudonym and never the id, and an
event time outside the skew window around the broker's timestamp is replaced by that
timestamp (``processors.eventtime``), flagged ``time_corrected`` on the output.

The ``enrich`` agent is a thin loop over ``stream.noack_take``; all the logic is in
``EnrichHandler.handle`` (plain async, unit-tested without Kafka). Each message is parsed
and cleaned within the per-message budget (``streams.budget``: a message over it is
dead-lettered as ``too_costly``), then one Enricher call per micro-batch; both run on the
handler's own enrichment thread, so the event loop
keeps heartbeating to Kafka while the encoder works. It is one dedicated thread, not
the loop's shared default pool: calls run one after another, whoever else uses that
pool, and the encoder spreads each batch over the cores itself (processors/encoder.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from processors.eventtime import SkewWindow, check_event_time
from processors.pseudonym import pseudonymise_record
from schemas.records import SurveyReply
from streams.budget import InlineSteps, MessageSteps, Parsed
from streams.contacts import ContactCounter, RecentContacts
from streams.deadletter import DeadLetterPolicy, describe_error
from streams.handlers.common import DeadLetters, Outputs, RawEvent
from streams.types import BatchEnricher, EnrichOutcome, Inbound, ParseInbound, Source

if TYPE_CHECKING:
    from streams.metrics import Metrics

log = logging.getLogger(__name__)

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


class EnrichHandler:
    """Turns one micro-batch of raw inbound events into output records.

    Never raises for bad data: invalid input and enrichment failures become dead
    letters, so nothing is lost and the batch can be acked once the outputs are out.
    """

    def __init__(
        self,
        *,
        enricher: BatchEnricher,
        parse: ParseInbound,
        sources: Mapping[str, Source],
        metrics: Metrics,
        contacts: ContactCounter | None = None,
        run_sync: RunSync | None = None,
        pseudonym_key: bytes | None = None,
        time_window: SkewWindow | None = None,
        deadletters: DeadLetterPolicy | None = None,
        steps: MessageSteps | None = None,
    ) -> None:
        """``sources`` maps a full topic name to its channel ("sms" or "survey").
        ``pseudonym_key`` None keeps customer ids as given (tests); the worker passes the
        configured key (``streams.privacy``), ``time_window`` and dead-letter policy.

        ``steps`` runs each message's parse and text cleaning within the per-message budget
        (``streams.budget``; the worker's runs them in a child process); without it,
        ``parse`` alone runs in the enrichment thread, measured but unbounded.
        """
        self.enricher = enricher
        self.parse = parse
        self.steps: MessageSteps = steps or InlineSteps(parse, budget_s=float("inf"))
        self.sources = dict(sources)
        self.metrics = metrics
        self.contacts: ContactCounter = contacts or RecentContacts()
        self.run_sync: RunSync = run_sync or EnrichThread()
        self.pseudonym_key = pseudonym_key
        self.time_window = time_window or SkewWindow()
        self.dead = DeadLetters(metrics, deadletters)

    def _prepare(self, ev: RawEvent, item: Inbound) -> tuple[Inbound, bool]:
        """``item`` with its customer id pseudonymised and its event time checked against
        the broker's timestamp (the worker's clock when the record has none); whether the
        time was corrected."""
        if self.pseudonym_key is not None:
            item = pseudonymise_record(item, self.pseudonym_key)
        update: dict[str, Any] = {}
        survey = isinstance(item, SurveyReply)
        field = "submitted_at" if survey else "received_at"
        checked = check_event_time(getattr(item, field), _broker_time(ev), self.time_window)
        if checked.corrected:
            update[field] = checked.at
            self.metrics.time_corrected.labels(source="survey" if survey else "sms").inc()
        return (item.model_copy(update=update) if update else item), checked.corrected

    def _emit(self, out: Outputs, result: EnrichOutcome, ev: RawEvent,
              time_corrected: bool = False) -> None:
        """``ev`` is the inbound record the outputs came from: if the broker refuses one of
        them for good, that record is what gets dead-lettered (``publish_rejected``)."""
        fb = result.feedback
        fu = result.followup
        if time_corrected:  # the record says its time is the broker's, not its own
            fb = fb.model_copy(update={"time_corrected": True})
            fu = fu.model_copy(update={"feedback": fb}) if fu is not None else None
        out.add("enriched", fb.customer_id or fb.id, fb.model_dump_json().encode("utf-8"),
                origin=ev)
        self.metrics.enriched.labels(channel=fb.channel, sentiment=fb.sentiment.label).inc()
        for subject in fb.topics:  # the VocTopicSpike alert compares each pair to its baseline
            self.metrics.subject_mentions.labels(brand=fb.brand, subject=subject.name).inc()
        if fu is not None:
            out.add("followups", fu.customer_id or fu.id, fu.model_dump_json().encode("utf-8"),
                    origin=ev)
            self.metrics.rants.labels(priority=fu.priority).inc()

    async def handle(self, events: Sequence[RawEvent],
                     contacts: ContactCounter | None = None) -> Outputs:
        """Parse, enrich (one Enricher call), and build every output of the batch.

        ``contacts`` gives each record's repeat-contact count: the worker passes the counts
        its contacts table gave this batch; without it the handler's own counter counts."""
        out = Outputs()
        todo: list[tuple[bytes, Source]] = []
        for ev in events:
            source: Source = self.sources.get(ev.topic, "sms")
            self.metrics.messages_in.labels(source=source).inc()
            if ev.value:
                todo.append((ev.value, source))
        # parsing and cleaning: off the event loop, one message at a time within the budget
        outcomes = iter(await self.run_sync(self.steps.run, todo) if todo else [])
        valid: list[tuple[RawEvent, Inbound]] = []
        corrected: list[bool] = []
        for ev in events:  # dead letters in input order
            if not ev.value:
                self.dead.park(out, ev, "empty_message", "record value is empty or null")
                continue
            outcome = next(outcomes)
            self.metrics.message_cost_seconds.observe(outcome.cpu_s)
            if not isinstance(outcome, Parsed):
                self.dead.park(out, ev, outcome.reason, outcome.detail)
                continue
            try:
                item, fixed = self._prepare(ev, outcome.record)
            except Exception as exc:
                reason = getattr(exc, "reason", None) or "invalid_input"
                self.dead.park(out, ev, str(reason), describe_error(exc))
                continue
            valid.append((ev, item))
            corrected.append(fixed)
        if not valid:
            return out

        counter = contacts if contacts is not None else self.contacts
        counts = [counter.observe_record(item) for _, item in valid]
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
            for (ev, _), result, fixed in zip(valid, results, corrected, strict=True):
                self._emit(out, result, ev, fixed)
            return out

        for (ev, item), count, fixed in zip(valid, counts, corrected, strict=True):
            try:
                (result,) = await self.run_sync(
                    self.enricher.enrich_batch, [item], recent_contacts=[count]
                )
            except Exception as exc:
                self.dead.park(out, ev, "enrich_error", f"enrichment failed: {type(exc).__name__}")
                continue
            self._emit(out, result, ev, fixed)
        return out


def _broker_time(ev: RawEvent) -> datetime:
    """The record's broker timestamp (Kafka gives seconds here), else the worker's clock."""
    if ev.timestamp is not None and ev.timestamp > 0:
        try:
            return datetime.fromtimestamp(ev.timestamp, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return datetime.now(UTC)
