"""Plain data the agents and handlers pass around, and the one way outputs are published.

Agents stay thin: they turn Faust events into ``RawEvent`` values, hand a batch
to a plain async handler that returns ``Outputs``, publish those with
``publish_all`` and only then ack the batch's events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streams.deadletter import DeadLetterPolicy, build_deadletter, deadletter_bytes
from streams.retry import RetryPolicy

if TYPE_CHECKING:
    from streams.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawEvent:
    """One Kafka record as the handlers see it: where it came from and its bytes."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None


@dataclass(frozen=True)
class OutRecord:
    """A record to produce: logical topic name (settings.topics field), key and bytes.

    A dead letter also carries its ``reason``, so it is counted without re-reading its bytes.
    """

    topic: str
    key: bytes | None
    value: bytes
    reason: str | None = None


@dataclass
class Outputs:
    """Everything one batch produces, in publish order."""

    records: list[OutRecord] = field(default_factory=list)

    def add(self, topic: str, key: str | bytes | None, value: bytes) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        self.records.append(OutRecord(topic, key, value))

    def for_topic(self, topic: str) -> list[OutRecord]:
        return [r for r in self.records if r.topic == topic]


def deadletter_record(ev: RawEvent, reason: str, error: str,
                      policy: DeadLetterPolicy | None = None) -> OutRecord:
    """The dead letter for ``ev`` (built by ``streams.deadletter`` under ``policy``: what it
    keeps of the original), keyed by its topic."""
    dl = build_deadletter(
        source_topic=ev.topic, partition=ev.partition, offset=ev.offset, key=ev.key,
        reason=reason, error=error, original=ev.value,
        policy=policy or DeadLetterPolicy.ephemeral(),
    )
    return OutRecord("deadletter", ev.topic.encode("utf-8"), deadletter_bytes(dl), reason)


class DeadLetters:
    """The one way a record is parked: build the dead letter, count it, add it to the batch.

    It goes out with the batch's other outputs (``publish_all``), before the batch's inputs
    are acked, so a dead letter is never lost in a crash.
    """

    def __init__(self, metrics: Metrics, policy: DeadLetterPolicy | None = None) -> None:
        """``policy``: what dead letters keep of the original (the worker passes the
        configured one; without it, nothing but the preview and a per-process hash)."""
        self.metrics = metrics
        self.policy = policy or DeadLetterPolicy.ephemeral()

    def park(self, out: Outputs, ev: RawEvent, reason: str, error: str) -> None:
        """Dead-letter ``ev`` with ``reason`` into ``out``."""
        self.add(out, [deadletter_record(ev, reason, error, self.policy)])
        log.info("dead-lettered %s[%s]@%s: %s", ev.topic, ev.partition, ev.offset, reason)

    def add(self, out: Outputs, records: Sequence[OutRecord]) -> None:
        """Add records a pure step produced (``route_followup_event``), counting its dead
        letters."""
        for rec in records:
            if rec.reason is not None:
                self.metrics.deadletter.labels(reason=rec.reason).inc()
        out.records.extend(records)


Sender = Callable[[OutRecord], Awaitable[Awaitable[Any]]]
"""Hands a record to the producer and returns the delivery future to await."""


#: Producer retries: forever (outputs are never dropped), quick at first, then 30 s apart.
PUBLISH_RETRY = RetryPolicy(max_attempts=0, base_s=0.2, max_s=30.0)


async def publish_all(
    records: Sequence[OutRecord],
    send: Sender,
    *,
    on_retry: Callable[[int, BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Produce every record and wait until the broker has them all.

    Delivery failures are retried (only the failed records) with backoff, for as
    long as it takes: returning means every output is on Kafka, so the caller may
    let Faust ack the inputs. Duplicates after a retry are harmless because every
    output carries a stable id.
    """
    pending = list(records)
    attempt = 0
    while pending:
        futures: list[tuple[OutRecord, Awaitable[Any] | None, BaseException | None]] = []
        for rec in pending:
            try:
                futures.append((rec, await send(rec), None))
            except Exception as send_error:  # buffer full, not connected, ...
                futures.append((rec, None, send_error))
        failed: list[OutRecord] = []
        last_exc: BaseException | None = None
        for rec, fut, error in futures:
            if fut is not None:
                try:
                    await fut
                    continue
                except Exception as delivery_error:
                    error = delivery_error
            failed.append(rec)
            last_exc = error
        if not failed:
            return
        if should_stop():
            raise RuntimeError(f"stopping with {len(failed)} unpublished records") from last_exc
        if on_retry is not None and last_exc is not None:
            on_retry(attempt, last_exc)
        log.warning(
            "publish failed for %d/%d records (%s); retrying",
            len(failed), len(pending), type(last_exc).__name__,
        )
        await sleep(PUBLISH_RETRY.delay(attempt + 1))
        attempt += 1
        pending = failed


def utf8_safe(value: Any) -> Any:
    """``value`` with every string encodable as UTF-8: a lone surrogate (legal in a JSON
    escape, not in UTF-8) would make the search client fail on every retry, forever."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {utf8_safe(k): utf8_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [utf8_safe(v) for v in value]
    return value
