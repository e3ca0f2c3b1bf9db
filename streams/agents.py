"""The worker's agents and timers, as named methods of ``WorkerAgents``.

``define_agents`` declares the topics and the table and says, in one place, which agent
reads what. Each agent is a short loop: take a micro-batch of events (``noack_take``), call
its plain handler (``streams.handlers``), publish the outputs and wait for the broker, and
only then ack the batch's events. Faust's ``take``/``take_events`` ack a batch in a
``finally`` when the generator is closed, so a batch interrupted by shutdown or an
exception would be acked without its outputs; with explicit acks an interrupted batch is
simply read again after the restart (at least once; outputs carry stable ids). Handlers
never raise for bad data; if one raises anyway (a bug), the batch is dead-lettered with
reason ``internal_error`` rather than lost. An output the broker refuses for good (too
large for its topic) is dead-lettered as ``publish_rejected`` (``streams.failures``), so
one record never blocks its partition; every other produce failure is retried.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import faust
from faust.exceptions import PartitionsMismatch
from faust.streams import _current_event as faust_current_event
from faust.types import TP, AgentT, EventT

from schemas.topics import TOPICS
from streams.budget import IsolatedSteps, worker_step
from streams.contacts import KnownCounts, count_contact, is_stale, key_partition
from streams.failures import FailureClass
from streams.handlers.common import DeadLetters, Outputs, OutRecord, RawEvent, publish_all
from streams.handlers.contacts import RekeyHandler, contact_from, origin_event
from streams.handlers.enrich import EnrichHandler
from streams.handlers.followups import FollowupIntake, FollowupSla, breach_op
from streams.handlers.index import IndexHandler
from streams.handlers.operator_docs import audit_doc, deadletter_doc
from streams.logcontext import EventContext, event_context, leading_id
from streams.privacy import deadletter_policy, load_pseudonym_key
from streams.retry import RetryPolicy, retry
from streams.settings import Settings
from streams.types import BatchEnricher, ParseInbound, SearchSink, Source

if TYPE_CHECKING:
    from streams.metrics import Metrics

log = logging.getLogger(__name__)

RAW = "raw"
"""Serializer of every key and value on our topics: the handlers parse the bytes themselves."""

FOLLOWUP_SCAN_INTERVAL_S = 5.0
CONTACTS_SWEEP_INTERVAL_S = 3600.0
LAG_SAMPLE_INTERVAL_S = 10.0

Handle = Callable[[list[RawEvent]], Awaitable[Outputs]]


@dataclass(frozen=True)
class WorkerTopics:
    """The worker's channels: what each agent reads, and every topic it may write to."""

    outputs: Mapping[str, faust.TopicT]  # by logical name (OutRecord.topic)
    inbound: faust.TopicT  # sms_inbound + survey_replies -> contacts (re-key by customer)
    contacts: faust.TopicT  # keyed by customer -> enrich (counts in the contacts table)
    enriched: faust.TopicT  # -> index
    followup_in: faust.TopicT  # followups + followup_outcomes -> followup-intake
    state: faust.TopicT  # internal, keyed by follow-up id -> followup-state
    deadletter: faust.TopicT  # -> deadletter-index
    audit: faust.TopicT  # -> audit-index


@dataclass(frozen=True)
class OperatorSinks:
    """Where the console's indices are written (``schemas.indices``): one sink per alias."""

    followups: SearchSink
    deadletters: SearchSink
    audit: SearchSink


def declare_topics(app: faust.App, settings: Settings) -> WorkerTopics:
    """Contract topics are created by ``voc topics create`` (declared non-internal here, so
    Faust never creates them); the internal state topic is Faust's to create."""

    def topic(logical: str, internal: bool = False) -> faust.TopicT:
        return app.topic(settings.topic(logical), key_serializer=RAW, value_serializer=RAW,
                         internal=internal, partitions=settings.topics.partitions)

    def sources(*logical: str) -> faust.TopicT:  # one channel over several input topics
        return app.topic(*(settings.topic(n) for n in logical), key_serializer=RAW,
                         value_serializer=RAW, internal=False)

    outputs = {t.logical: topic(t.logical) for t in TOPICS}
    state = topic("state", internal=True)
    return WorkerTopics(
        outputs={**outputs, "state": state},
        inbound=sources("sms_inbound", "survey_replies"),
        contacts=outputs["contacts"],
        enriched=outputs["enriched"],
        followup_in=sources("followups", "followup_outcomes"),
        state=state,
        deadletter=outputs["deadletter"],
        audit=outputs["audit"],
    )


class WorkerAgents:
    """One method per agent (enrich, index, followup_intake, followup_state,
    deadletter_index, audit_index, contacts) and timer (followup_sla, consumer_lag,
    contacts_sweep);
    ``define_agents`` attaches them to the app."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        topics: WorkerTopics,
        *,
        enricher: BatchEnricher,
        backend: SearchSink,
        metrics: Metrics,
        parse: ParseInbound,
        operator_sinks: OperatorSinks,
    ) -> None:
        self.app = app
        self.settings = settings
        self.topics = topics
        self.backend = backend
        self.metrics = metrics
        self.policy = RetryPolicy.from_settings(settings)
        # one key for every keyed hash (pseudonyms, dead letters' original hashes)
        key = load_pseudonym_key(settings)
        dl = self.deadletter_policy = deadletter_policy(settings, key)
        self.dead = DeadLetters(metrics, dl)
        sources: dict[str, Source] = {settings.topic("sms_inbound"): "sms",
                                      settings.topic("survey_replies"): "survey"}
        self.steps = IsolatedSteps(worker_step(parse, settings.enrich.max_text_chars),
                                   budget_s=settings.message_budget_s,
                                   wall_s=settings.message_budget_wall_s)
        self.enrich_handler = EnrichHandler(enricher=enricher, parse=parse, sources=sources,
                                            metrics=metrics, pseudonym_key=key,
                                            time_window=settings.event_time_window(),
                                            deadletters=dl, steps=self.steps)
        self.index_handler = IndexHandler(backend=backend, metrics=metrics, policy=self.policy,
                                          deadletters=dl)
        self.rekey_handler = RekeyHandler(parse=parse, sources=sources, pseudonym_key=key,
                                          time_window=settings.event_time_window())
        # customer -> [[epoch s, message id], ...] (streams.contacts); its partitions are the
        # contacts topic's (checked every batch: _check_copartitioned)
        self.contacts_table = app.Table(
            "recent-contacts", default=None, partitions=settings.topics.partitions,
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
        )
        self.intake = FollowupIntake(followups_topic=settings.topic("followups"),
                                     metrics=metrics, deadletters=dl)
        self.table = app.Table(
            "open-followups", default=None, partitions=settings.topics.partitions,
            # json both ways: keys come back as str (not bytes) when the changelog is replayed
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
        )
        self.sla = FollowupSla(self.table, metrics)
        self.sinks = operator_sinks

        def side_index(sink: SearchSink, **kwargs: Any) -> IndexHandler:
            return IndexHandler(backend=sink, metrics=metrics, policy=self.policy,
                                observe_latency=False, deadletters=dl, **kwargs)

        # a case document or dead letter the cluster refuses is logged, never parked again
        self.case_index = side_index(operator_sinks.followups, park_rejected=False)
        self.deadletter_index_handler = side_index(operator_sinks.deadletters,
                                                   build=deadletter_doc, park_rejected=False)
        self.audit_index_handler = side_index(operator_sinks.audit, build=audit_doc,
                                              invalid_reason="invalid_audit")
        self._lagged = {settings.topic(t.logical) for t in TOPICS}
        self._enriched_topic = settings.topic("enriched")
        self.agents: tuple[AgentT, ...] = ()  # set by define_agents

    # --- agents --------------------------------------------------------------------------

    async def contacts(self, stream: faust.StreamT) -> None:
        """Inbound SMS and survey replies -> the contacts topic, keyed by customer."""
        s = self.settings
        async for events in _batches(stream, s.batch_size, s.batch_within_s):
            await self._run_batch(stream, events, self.rekey_handler.handle)

    async def enrich(self, stream: faust.StreamT) -> None:
        """Re-keyed inbound records -> each one's contact counted in the contacts table
        (this worker owns the customer's partition), then enriched feedback, follow-ups and
        dead letters; the handler sees the original records (``origin_event``)."""
        await self.enrich_handler.run_sync(self.steps.start)  # the budget's child process
        s = self.settings
        async for events in _batches(stream, s.batch_size, s.batch_within_s):
            self._check_copartitioned()  # before anything is counted or acked

            async def apply(raw: list[RawEvent], events: Sequence[EventT] = events) -> Outputs:
                counts: dict[str, int] = {}
                for event in events:
                    contact = contact_from(raw_event(event), event.message.headers)
                    if contact is not None:
                        with _as_current(event):  # the table's changelog partition
                            counts[contact.message_id] = count_contact(self.contacts_table,
                                                                       contact)
                return await self.enrich_handler.handle(raw, KnownCounts(counts))

            await self._run_batch(stream, events, apply, raw_of=inbound_event)

    async def index(self, stream: faust.StreamT) -> None:
        """Enriched feedback -> the search index (dead letters for documents it rejects)."""
        await self._ensure(self.backend)
        s = self.settings
        async for events in _batches(stream, s.index_batch_size, s.batch_within_s):
            await self._run_batch(stream, events, self.index_handler.handle)

    async def followup_intake(self, stream: faust.StreamT) -> None:
        """Follow-ups and outcomes -> ops on the state topic, keyed by follow-up id."""
        s = self.settings
        async for events in _batches(stream, s.batch_size, s.batch_within_s):
            await self._run_batch(stream, events, self.intake.handle)

    async def followup_state(self, stream: faust.StreamT) -> None:
        """State ops -> the open-follow-ups table (this worker's partitions of it) and each
        changed case's document in the follow-ups index, before the ops are acked."""
        await self._ensure(self.sinks.followups)
        s = self.settings
        async for events in _batches(stream, s.index_batch_size, s.operator_batch_within_s):

            async def apply(raw: list[RawEvent], events: Sequence[EventT] = events) -> Outputs:
                changed: dict[str, RawEvent] = {}  # case id -> the op that last changed it
                for event, ev in zip(events, raw, strict=True):
                    with _as_current(event):  # the table's changelog partition
                        fid = self.sla.apply_event(ev)
                    if fid is not None:
                        changed[fid] = ev
                docs = self.sla.case_documents(changed, datetime.now(UTC))
                return await self.case_index.index_documents(docs)

            await self._run_batch(stream, events, apply)

    async def deadletter_index(self, stream: faust.StreamT) -> None:
        """Dead letters -> the dead-letters index (redacted preview; originals stay here)."""
        await self._ensure(self.sinks.deadletters)
        s = self.settings
        async for events in _batches(stream, s.index_batch_size, s.operator_batch_within_s):
            await self._run_batch(stream, events, self.deadletter_index_handler.handle,
                                  park_failures=False)

    async def audit_index(self, stream: faust.StreamT) -> None:
        """Operator actions and alerts from the console -> the audit index."""
        await self._ensure(self.sinks.audit)
        s = self.settings
        async for events in _batches(stream, s.index_batch_size, s.operator_batch_within_s):
            await self._run_batch(stream, events, self.audit_index_handler.handle)

    def _check_copartitioned(self) -> None:
        """Stop the enrich agent (its batch unacked) when the contacts topic and the table's
        changelog disagree on their partition counts: a customer's contacts would then be
        counted on a partition that another worker recovers. Faust checks this only for
        tables it partitions itself. Two lookups in the consumer's metadata: every batch."""
        consumer = self.app.consumer
        source = consumer.topic_partitions(self.topics.contacts.get_topic_name())
        changelog_topic = self.contacts_table.changelog_topic.get_topic_name()
        changelog = consumer.topic_partitions(changelog_topic)
        if source is not None and changelog is not None and source != changelog:
            raise PartitionsMismatch(
                f"{self.topics.contacts.get_topic_name()} has {source} partitions but "
                f"{changelog_topic} has {changelog}: see docs/operations.md, running more "
                "than one worker")

    async def _ensure(self, sink: SearchSink) -> None:
        """Template + alias before the first document; never give up."""
        await retry(sink.ensure_index, policy=self.policy.forever(),
                    is_retryable=lambda _: True)

    # --- timers --------------------------------------------------------------------------

    async def followup_sla(self) -> None:
        """Open gauge, and one breach op per follow-up past its due time."""
        for fid in self.sla.due_breaches(datetime.now(UTC)):
            await self.topics.state.send(key=fid.encode("utf-8"), value=breach_op(fid))

    async def contacts_sweep(self) -> int:
        """Drop customers without a contact in the last 14 days from this worker's partitions
        of the contacts table (a tombstone on the changelog), so the table holds the active
        customers, not everyone ever seen. Only partitions assigned to this worker: another
        worker owns the rest. No await inside, so no batch of the enrich agent interleaves.
        Returns how many entries went."""
        topic = self.topics.contacts.get_topic_name()
        try:
            consumer = self.app.consumer
            mine = {tp.partition for tp in consumer.assignment() if tp.topic == topic}
            partitions = consumer.topic_partitions(topic)
        except Exception as exc:  # consumer not ready / rebalancing: sweep next time
            log.debug("contacts sweep skipped: %s", type(exc).__name__)
            return 0
        if not mine or not partitions:
            return 0
        now = datetime.now(UTC).timestamp()
        table = self.contacts_table
        gone = 0
        for key, history in list(table.data.items()):
            partition = key_partition(key, partitions)
            if partition in mine and is_stale(history, now):
                table.send_changelog(partition, key, None, value_serializer="raw")
                del table.data[key]
                gone += 1
        if gone:
            log.info("contacts sweep: %d idle customers dropped", gone)
        return gone

    async def consumer_lag(self) -> None:
        """``voc_consumer_lag`` per contract topic, from this worker's assignment."""
        try:
            consumer = self.app.consumer
            assigned = [tp for tp in consumer.assignment() if tp.topic in self._lagged]
            ends = await consumer.highwaters(*assigned) if assigned else {}
            # Faust keeps the committed offsets privately; SafeConsumer relies on them too
            committed = {tp: consumer._committed_offset.get(tp)  # type: ignore[attr-defined]
                         for tp in assigned}
        except Exception as exc:  # consumer not ready / rebalancing: sample next time
            log.debug("lag sample skipped: %s", type(exc).__name__)
            return
        for topic, lag in lag_by_topic(ends, committed).items():
            self.metrics.consumer_lag.labels(topic=topic).set(lag)

    # --- the batch loop shared by the agents ---------------------------------------------

    async def _run_batch(self, stream: faust.StreamT, events: Sequence[EventT],
                         handle: Handle, *, park_failures: bool = True,
                         raw_of: Callable[[EventT], RawEvent] | None = None) -> None:
        """``park_failures=False`` is for the dead-letter topic's own reader: its records are
        already parked on Kafka, and parking them again would feed them back to itself.
        ``raw_of`` is what the handler (and a dead letter) sees of an event."""
        raw = [(raw_of or raw_event)(e) for e in events]
        try:
            out = await handle(raw)
        except Exception as exc:  # a bug: park the batch, never lose it
            log.exception("handler failed on a batch of %d", len(raw))
            out = Outputs()
            for ev in raw:
                if park_failures:
                    self.dead.park(out, ev, "internal_error", type(exc).__name__)
                else:  # still on voc.deadletter; only its document is missing
                    self.metrics.operator_docs.labels(index="deadletters", result="error").inc()
        await publish_all(out.records, self._send, on_retry=_log_producer_retry,
                          refused=self._refused, on_error=self._count_publish_error)
        for event in events:  # outputs are on Kafka: now the inputs may be committed
            await stream.ack(event)
        if log.isEnabledFor(logging.DEBUG):  # one line per message, to follow it by its ids
            for event in events:
                with event_context(event_context_of(event, self._enriched_topic)):
                    log.debug("processed %s", event.message.topic)

    async def _send(self, rec: OutRecord) -> Awaitable[Any]:
        return await self.topics.outputs[rec.topic].send(key=rec.key, value=rec.value,
                                                         headers=list(rec.headers) or None)

    def _refused(self, rec: OutRecord, exc: BaseException) -> OutRecord | None:
        """A record the broker refused for good: its dead letter instead (never retried)."""
        return self.dead.unpublishable(rec, exc, self.topics.outputs[rec.topic].get_topic_name())

    def _count_publish_error(self, rec: OutRecord, failure: FailureClass) -> None:
        self.metrics.publish_errors.labels(topic=rec.topic, failure=failure.value).inc()


def define_agents(
    app: faust.App,
    settings: Settings,
    *,
    enricher: BatchEnricher,
    backend: SearchSink,
    metrics: Metrics,
    parse: ParseInbound,
    operator_sinks: OperatorSinks | None = None,
) -> WorkerAgents:
    """Declare the topics and table and attach every agent and timer to ``app``.

    Without ``operator_sinks`` the console's documents go to ``backend`` too (tests).
    """
    topics = declare_topics(app, settings)
    sinks = operator_sinks or OperatorSinks(backend, backend, backend)
    w = WorkerAgents(app, settings, topics, enricher=enricher, backend=backend,
                     metrics=metrics, parse=parse, operator_sinks=sinks)
    # concurrency=1: several actors on one take() buffer lose acks (faust #606). Overlapping
    # batches inside the one actor was measured too (bench/pipeline.py --compare): no gain on
    # 2 cores, so one batch at a time.
    w.agents = (
        app.agent(topics.contacts, name="enrich", concurrency=1)(w.enrich),
        app.agent(topics.enriched, name="index", concurrency=1)(w.index),
        app.agent(topics.followup_in, name="followup-intake", concurrency=1)(w.followup_intake),
        app.agent(topics.state, name="followup-state", concurrency=1)(w.followup_state),
        app.agent(topics.deadletter, name="deadletter-index", concurrency=1)(w.deadletter_index),
        app.agent(topics.audit, name="audit-index", concurrency=1)(w.audit_index),
        app.agent(topics.inbound, name="contacts", concurrency=1)(w.contacts),
    )
    app.timer(FOLLOWUP_SCAN_INTERVAL_S, name="followup-sla")(w.followup_sla)
    app.timer(LAG_SAMPLE_INTERVAL_S, name="consumer-lag")(w.consumer_lag)
    app.timer(CONTACTS_SWEEP_INTERVAL_S, name="contacts-sweep")(w.contacts_sweep)
    return w


def raw_event(event: EventT) -> RawEvent:
    """What a handler sees of a Faust event (its value is bytes: serializer "raw")."""
    msg = event.message
    key = msg.key if isinstance(msg.key, bytes | None) else str(msg.key).encode()
    value = event.value
    if isinstance(value, str):
        value = value.encode("utf-8")
    return RawEvent(topic=msg.topic, partition=msg.partition, offset=msg.offset, key=key,
                    value=value, timestamp=msg.timestamp)


def inbound_event(event: EventT) -> RawEvent:
    """What the enrich handler sees of a ``contacts`` event: the inbound record it was
    re-keyed from (its topic, partition, offset, key and bytes)."""
    return origin_event(raw_event(event), event.message.headers)


def event_context_of(event: EventT, enriched_topic: str) -> EventContext:
    """The log context of one event: where it was read and, where known, its feedback id
    (a contacts record's contact header; an enriched document's leading ``id``)."""
    msg = event.message
    raw = raw_event(event)
    contact = contact_from(raw, msg.headers)
    fid = contact.message_id if contact is not None else (
        leading_id(raw.value) if msg.topic == enriched_topic else None)
    return EventContext(topic=msg.topic, partition=msg.partition, offset=msg.offset,
                        feedback_id=fid)


def lag_by_topic(ends: Mapping[TP, int | None], committed: Mapping[TP, int | None]
                 ) -> dict[str, int]:
    """Records not yet committed per topic: sum over partitions of end - committed offset."""
    out: dict[str, int] = {}
    for tp, end in ends.items():
        done = committed.get(tp) or 0
        out[tp.topic] = out.get(tp.topic, 0) + max(0, (end or 0) - done)
    return out


def _batches(stream: faust.StreamT, size: int, within_s: float
             ) -> AsyncIterator[Sequence[EventT]]:
    """``stream.noack_take``: on Faust's ``Stream``, missing from its ``StreamT`` interface."""
    return cast("faust.Stream[Any]", stream).noack_take(size, within_s)


@contextmanager
def _as_current(event: EventT) -> Iterator[None]:
    """Make ``event`` the current event while a table is written from a batch: a Faust
    table sends its changelog record to the partition of ``faust.streams.current_event()``,
    which ``noack_take`` leaves unset. Only that context variable is set, and it is put back
    exactly as it was, so the stream's own bookkeeping (``Stream.current_event``, which its
    take-buffer reads) is never touched. ``_current_event`` is private: the private-API test
    in tests/unit/test_faust_privates.py watches it."""
    token = faust_current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_current_event.reset(token)


def _log_producer_retry(attempt: int, exc: BaseException) -> None:
    log.warning("producer retry %d: %s", attempt, type(exc).__name__)
