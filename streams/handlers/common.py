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

from schemas.records import DeadLetter
from streams.deadletter import DeadLetterPolicy, build_deadletter, deadletter_bytes
from streams.failures import FailureClass, produce_failure
from streams.retry import RetryPolicy, short_error

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

    A dead letter also carries its ``reason``, so it is counted without re-reading its bytes;
    an output can carry its ``origin``, the input record it was made from, which is what is
    dead-lettered if the broker refuses the output for good;
    a re-keyed inbound record carries where it came from in ``headers``.
    """

    topic: str
    key: bytes | None
    value: bytes
    reason: str | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    origin: RawEvent | None = None


@dataclass
class Outputs:
    """Everything one batch produces, in publish order."""

    records: list[OutRecord] = field(default_factory=list)

    def add(self, topic: str, key: str | bytes | None, value: bytes,
            origin: RawEvent | None = None) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        self.records.append(OutRecord(topic, key, value, origin=origin))

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

    def unpublishable(self, rec: OutRecord, exc: BaseException, topic: str
                      ) -> OutRecord | None:
        """What to publish instead of ``rec``, which the broker refused for good
        (``FailureClass.PERMANENT``, e.g. too large for ``topic``): a dead letter with reason
        ``publish_rejected`` for the input record the output came from (``rec.origin``: its
        topic, partition, offset and bytes, the usual dedupe key), or, for an output without
        one, for the refused record itself. A refused dead letter is sent once more without
        its original bytes; if even that is refused, None (logged and counted), so a
        partition is never blocked by one record."""
        error = f"publish to {topic} refused: {short_error(exc, 300)}"
        if rec.topic != "deadletter":
            ev = rec.origin or RawEvent(topic=topic, partition=None, offset=None, key=rec.key,
                                        value=rec.value)
            dl = deadletter_record(ev, "publish_rejected", error, self.policy)
            self.metrics.deadletter.labels(reason="publish_rejected").inc()
            log.error("output to %s refused for good (%s); dead-lettered", topic,
                      type(exc).__name__)
            return dl
        try:
            parked = DeadLetter.model_validate_json(rec.value)
        except ValueError:
            parked = None
        if parked is None or not parked.original_b64:
            log.error("dead letter refused for good even without its original (%s); dropped",
                      type(exc).__name__)
            return None
        slim = parked.model_copy(update={
            "original_b64": "", "original_kept": False,
            "error": f"{parked.error[:200]} [original dropped: {error}]"[:500]})
        log.error("dead letter refused for good (%s); sent again without its original",
                  type(exc).__name__)
        return OutRecord(rec.topic, rec.key, deadletter_bytes(slim), rec.reason)

    def add(self, out: Outputs, records: Sequence[OutRecord]) -> None:
        """Add records a pure step produced (``route_followup_event``), counting its dead
        letters."""
        for rec in records:
            if rec.reason is not None:
                self.metrics.deadletter.labels(reason=rec.reason).inc()
        out.records.extend(records)


Sender = Callable[[OutRecord], Awaitable[Awaitable[Any]]]
"""Hands a record to the producer and returns the delivery future to await."""

Refused = Callable[[OutRecord, BaseException], "OutRecord | None"]
"""What to publish instead of a record the broker refused for good (None: nothing)."""


#: Producer retries: forever (outputs are never dropped), quick at first, then 30 s apart.
PUBLISH_RETRY = RetryPolicy(max_attempts=0, base_s=0.2, max_s=30.0)


async def publish_all(
    records: Sequence[OutRecord],
    send: Sender,
    *,
    on_retry: Callable[[int, BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    should_stop: Callable[[], bool] = lambda: False,
    refused: Refused | None = None,
    on_error: Callable[[OutRecord, FailureClass], None] | None = None,
) -> None:
    """Produce every record and wait until the broker has them all.

    Retriable and blocked delivery failures (``streams.failures``) are retried (only
    the failed records) with backoff, for as long as it takes: returning means every
    output is on Kafka, so the caller may let Faust ack the inputs. Duplicates after a
    retry are harmless because every output carries a stable id. A record refused for
    good (too large, invalid topic) is replaced by what ``refused`` returns (its dead
    letter) instead of being retried forever; without ``refused`` it is retried.
    ``on_error`` sees every failed record with its class (for the metrics).
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
        replaced: list[OutRecord] = []
        last_exc: BaseException | None = None
        for rec, fut, error in futures:
            if fut is not None:
                try:
                    await fut
                    continue
                except Exception as delivery_error:
                    error = delivery_error
            cls = produce_failure(error) if error is not None else FailureClass.RETRIABLE
            if on_error is not None:
                on_error(rec, cls)
            if refused is not None and error is not None and cls is FailureClass.PERMANENT:
                instead = refused(rec, error)
                if instead is not None:
                    replaced.append(instead)
                continue
            failed.append(rec)
            last_exc = error
        if not failed:
            if not replaced:
                return
            pending = replaced  # the dead letters of refused records, at once
            continue
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
        pending = failed + replaced


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
