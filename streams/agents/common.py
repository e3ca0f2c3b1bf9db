"""Plain data the agents pass around, and the one way they publish.

Agents stay thin: they turn Faust events into ``RawEvent`` values, hand a batch
to a plain async handler that returns ``Outputs``, publish those with
``publish_all`` and only then ack the batch's events. The handlers know nothing
about Faust, so they are unit-tested with plain lists.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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

    @classmethod
    def from_faust(cls, event: Any) -> RawEvent:
        """Copy what we need out of a Faust event (value is raw bytes: serializer "raw")."""
        msg = event.message
        key = msg.key if isinstance(msg.key, bytes | None) else str(msg.key).encode()
        value = event.value
        if isinstance(value, str):
            value = value.encode("utf-8")
        return cls(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=key,
            value=value,
            timestamp=msg.timestamp,
        )


@dataclass(frozen=True)
class OutRecord:
    """A record to produce: logical topic name (settings.topics field), key and bytes."""

    topic: str
    key: bytes | None
    value: bytes


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


Sender = Callable[[OutRecord], Awaitable[Awaitable[Any]]]
"""Hands a record to the producer and returns the delivery future to await."""


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter (AWS style): never a thundering herd."""
    return random.uniform(0.0, min(cap, base * (2**attempt)))


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
            except Exception as exc:  # buffer full, not connected, ...
                futures.append((rec, None, exc))
        failed: list[OutRecord] = []
        last_exc: BaseException | None = None
        for rec, fut, exc in futures:
            if fut is not None:
                try:
                    await fut
                    continue
                except Exception as err:
                    exc = err
            failed.append(rec)
            last_exc = exc
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
        await sleep(backoff_delay(attempt))
        attempt += 1
        pending = failed
