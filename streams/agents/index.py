"""Index agent: enriched feedback in, search documents out (``_id`` = feedback id).

Transient failures (connection errors, 429, 5xx) are retried with exponential
backoff and jitter for as long as they last: the agent simply stops consuming
while the search cluster is down, so nothing is dropped or skipped, and Kafka
holds the backlog. A document the cluster rejects for good (mapping error, 4xx)
goes to the dead-letter topic with the reason instead of blocking the pipeline.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from streams.agents.common import Outputs, RawEvent, backoff_delay
from streams.deadletter import build_deadletter, deadletter_bytes

log = logging.getLogger(__name__)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class IndexHandler:
    """Bulk-indexes one batch, retrying transient failures until they succeed."""

    def __init__(
        self,
        *,
        backend: Any,
        metrics: Any,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.backend = backend
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self.max_backoff_s = max_backoff_s

    def _dead(self, out: Outputs, ev: RawEvent, reason: str, error: str) -> None:
        dl = build_deadletter(
            source_topic=ev.topic, partition=ev.partition, offset=ev.offset, key=ev.key,
            reason=reason, error=error, original=ev.value,
        )
        out.add("deadletter", ev.topic, deadletter_bytes(dl))
        self.metrics.deadletter.labels(reason=reason).inc()

    async def handle(self, events: Sequence[RawEvent]) -> Outputs:
        """Index every parseable document of the batch; return the dead letters."""
        out = Outputs()
        docs: dict[str, tuple[RawEvent, dict[str, Any]]] = {}
        for ev in events:
            try:
                doc = json.loads(ev.value or b"")
                if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
                    raise ValueError("not an EnrichedFeedback object with an id")
            except ValueError as exc:
                self._dead(out, ev, "invalid_enriched", str(exc)[:200])
                continue
            docs[doc["id"]] = (ev, doc)  # a later copy of the same id wins, as in the index

        attempt = 0
        pending = dict(docs)
        while pending:
            try:
                # The backend itself retries 429/5xx/connection errors (forever with the
                # default policy) and counts voc_index_docs_total / retries / search_up.
                results = await self.backend.bulk_index([d for _, d in pending.values()])
            except Exception as exc:  # a finite retry policy gave up, or an unexpected error
                self.metrics.index_retries.inc()
                self.metrics.search_up.set(0)
                log.warning("indexing %d documents failed (%s); backing off",
                            len(pending), type(exc).__name__)
                await self._backoff(attempt)
                attempt += 1
                continue
            stamp = self.clock()
            self.metrics.index_last_success.set(stamp)
            now = datetime.fromtimestamp(stamp, UTC)
            retry: dict[str, tuple[RawEvent, dict[str, Any]]] = {}
            for (doc_id, (ev, doc)), result in zip(pending.items(), results, strict=True):
                if result.ok:
                    received = _parse_time(doc.get("received_at"))
                    if received is not None:
                        self.metrics.end_to_end_seconds.observe(
                            max(0.0, (now - received).total_seconds())
                        )
                elif result.retryable:
                    retry[doc_id] = (ev, doc)
                else:
                    self._dead(out, ev, "index_rejected",
                               f"search status {result.status}: {result.error or ''}")
            if retry:
                log.warning("%d documents still retryable; backing off", len(retry))
                await self._backoff(attempt)
                attempt += 1
            pending = retry
        return out

    async def _backoff(self, attempt: int) -> None:
        await self.sleep(backoff_delay(min(attempt, 20), base=0.2, cap=self.max_backoff_s))
