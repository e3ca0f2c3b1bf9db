"""Index handler: records in, search documents out (``_id`` = the document's ``id``).

The ``index`` agent runs it over enriched feedback; the operator-facing indices (dead
letters, audit trail) run the same handler with their own document builder.

Failure classes are ``streams.failures``'s. Retriable failures (connection errors, 429,
5xx) and blocked ones (403 ``cluster_block_exception``: a read-only index, until an
operator lifts the block) are retried with the sink's one ``RetryPolicy`` for as long
as they last: the ``index`` agent simply stops consuming, so nothing is dropped or
skipped, and Kafka holds the backlog. A document the cluster rejects for good (400
mapping error or illegal argument, other 4xx) goes to the dead-letter topic with reason
``index_rejected`` instead of blocking the pipeline. A 409 version conflict is a stale
write (the index holds a newer version): success, nothing written.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from streams.deadletter import DeadLetterPolicy
from streams.failures import FailureClass
from streams.handlers.common import DeadLetters, Outputs, RawEvent
from streams.retry import RetryPolicy, retry
from streams.types import SearchSink

if TYPE_CHECKING:
    from streams.metrics import Metrics

log = logging.getLogger(__name__)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


DocBuilder = Callable[[RawEvent], dict[str, Any]]
"""A record's search document (with a string ``id``); raises ValueError for a bad record."""


def enriched_doc(ev: RawEvent) -> dict[str, Any]:
    """An EnrichedFeedback record is its own document."""
    doc = json.loads(ev.value or b"")
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise ValueError("not an EnrichedFeedback object with an id")
    return doc


class IndexHandler:
    """Bulk-indexes one batch, retrying transient failures until they succeed."""

    def __init__(
        self,
        *,
        backend: SearchSink,
        metrics: Metrics,
        policy: RetryPolicy | None = None,
        build: DocBuilder = enriched_doc,
        invalid_reason: str = "invalid_enriched",
        park_rejected: bool = True,
        observe_latency: bool = True,
        deadletters: DeadLetterPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        """``policy``'s waits are used without its attempt limit: a batch is never dropped.

        ``park_rejected=False`` is for the dead-letter topic's own index: a document the
        cluster refuses is logged and counted (``voc_index_docs_total{result="error"}``),
        never dead-lettered again, which would loop.
        """
        self.backend = backend
        self.build = build
        self.invalid_reason = invalid_reason
        self.park_rejected = park_rejected
        self.observe_latency = observe_latency
        self.metrics = metrics
        self.policy = (policy or RetryPolicy()).forever()
        self.clock = clock
        self.sleep = sleep
        self.dead = DeadLetters(metrics, deadletters)

    async def handle(self, events: Sequence[RawEvent]) -> Outputs:
        """Index every parseable document of the batch; return the dead letters."""
        out = Outputs()
        docs: dict[str, tuple[RawEvent, dict[str, Any]]] = {}
        for ev in events:
            try:
                doc = self.build(ev)
            except ValueError as exc:
                self.dead.park(out, ev, self.invalid_reason, str(exc)[:200])
                continue
            docs[doc["id"]] = (ev, doc)  # a later copy of the same id wins, as in the index
        await self._index(out, docs)
        return out

    async def index_documents(self, docs: Sequence[tuple[RawEvent, dict[str, Any]]]
                              ) -> Outputs:
        """Index documents already built (each with the event it came from); the dead
        letters. For a caller that has the documents in hand, such as the follow-up state
        step, which builds each case from its table."""
        out = Outputs()
        await self._index(out, {doc["id"]: (ev, doc) for ev, doc in docs})
        return out

    async def _index(self, out: Outputs, docs: dict[str, tuple[RawEvent, dict[str, Any]]]
                     ) -> None:
        attempt = 0
        pending = dict(docs)
        while pending:
            # The backend retries 429/5xx/connection errors itself (forever with the default
            # policy) and owns voc_search_up; this retries what a finite policy gave up on.
            batch = [d for _, d in pending.values()]
            results = await retry(functools.partial(self.backend.bulk_index, batch),
                                  policy=self.policy, is_retryable=lambda _: True,
                                  on_retry=self._on_retry, sleep=self.sleep)
            stamp = self.clock()
            self.metrics.index_last_success.set(stamp)
            now = datetime.fromtimestamp(stamp, UTC)
            again: dict[str, tuple[RawEvent, dict[str, Any]]] = {}
            for (doc_id, (ev, doc)), result in zip(pending.items(), results, strict=True):
                if result.ok:
                    # a stale write (an older copy replayed) indexed nothing: no latency
                    observe = self.observe_latency and not result.stale
                    received = _parse_time(doc.get("received_at")) if observe else None
                    if received is not None:
                        self.metrics.end_to_end_seconds.observe(
                            max(0.0, (now - received).total_seconds())
                        )
                elif result.retryable:
                    again[doc_id] = (ev, doc)
                elif self.park_rejected:
                    self.dead.park(out, ev, "index_rejected",
                                   f"search status {result.status}: {result.error or ''}")
                else:
                    log.error("search refused document %s for good (status %d): %s",
                              doc_id, result.status, result.error)
            if again:
                attempt += 1
                blocked = sum(1 for r in results if r.failure is FailureClass.BLOCKED)
                if blocked:
                    log.warning("%d documents refused by a write block (read-only index): "
                                "waiting for an operator to lift it", blocked)
                log.warning("%d documents still retryable; backing off", len(again))
                await self.sleep(self.policy.delay(attempt))
            pending = again

    def _on_retry(self, attempt: int, exc: BaseException) -> None:
        self.metrics.index_retries.inc()
