"""Replay a JSONL file of inbound records onto Kafka (the demo, tests and benchmarks use it).

Replay is a producer tool, not a validator: every line's bytes go out unchanged, to the
topic its shape suggests. A line with ``message_id`` is an SMS (keyed by sender, falling back
to the message id, so one customer's texts stay in order on one partition); a line with
``response_id`` is a survey reply (keyed by response id). Lines that are neither — invalid
JSON, unknown shapes — go to the SMS inbound topic as raw bytes with no key, so the worker
dead-letters them: that is how bad input is tested end to end.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from streams.settings import Settings

Kind = Literal["sms", "survey", "unknown"]


@dataclass(frozen=True)
class Routed:
    """Where one line goes: its kind and Kafka key (None for unknown lines)."""

    kind: Kind
    key: bytes | None


def _key_text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def classify(line: bytes) -> Routed:
    """Decide sms / survey / unknown for one line (never raises)."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return Routed("unknown", None)
    if not isinstance(obj, dict):
        return Routed("unknown", None)
    if "message_id" in obj:
        key = _key_text(obj.get("from")) or _key_text(obj.get("message_id"))
        return Routed("sms", key.encode() if key else None)
    if "response_id" in obj:
        key = _key_text(obj.get("response_id"))
        return Routed("survey", key.encode() if key else None)
    return Routed("unknown", None)


def topic_for(kind: Kind, settings: Settings, prefix: str | None = None) -> str:
    """SMS and unknown lines go to the SMS inbound topic, surveys to the survey topic."""
    p = settings.topic_prefix if prefix is None else prefix
    logical = "survey_replies" if kind == "survey" else "sms_inbound"
    return p + getattr(settings.topics, logical)


TIME_FIELD = {"sms": "received_at", "survey": "submitted_at"}


def retime(line: bytes, kind: Kind, now: datetime | None = None) -> bytes:
    """The line with its received_at/submitted_at set to ``now`` (UTC), for demos and latency
    benchmarks where end-to-end time should start at the send; unknown lines stay as-is."""
    if kind not in TIME_FIELD:
        return line
    obj = json.loads(line)
    obj[TIME_FIELD[kind]] = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return json.dumps(obj, ensure_ascii=False).encode()


def read_lines(path: Path) -> Iterator[bytes]:
    """Non-blank lines of ``path`` as bytes, without their line ending (bytes kept as-is)."""
    with path.open("rb") as fh:
        for raw in fh:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield line


class RateLimiter:
    """Token bucket: at most ``rate`` acquisitions per second on average, small bursts allowed.

    ``rate`` None or <= 0 means unlimited. Clock and sleep are injectable for tests.
    """

    def __init__(
        self,
        rate: float | None,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate if rate and rate > 0 else None
        self.capacity = max(1.0, burst if burst is not None else (self.rate or 1) / 20)
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.last = clock()

    def acquire(self) -> None:
        if self.rate is None:
            return
        while True:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1.0 - 1e-9:  # tolerance: float sums never stall the loop
                self.tokens = max(0.0, self.tokens - 1.0)
                return
            self.sleep(max((1.0 - self.tokens) / self.rate, 1e-6))


@dataclass
class ReplaySummary:
    """What a replay did: counts per kind and topic, failures, and the achieved rate."""

    sent: int = 0
    failed: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "by_kind": dict(self.by_kind),
                "by_topic": dict(self.by_topic), "elapsed_s": round(self.elapsed_s, 3),
                "rate_per_s": round(self.rate, 1), "errors": self.errors[:10]}


def producer_config(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """kafka-python KafkaProducer settings: durable (acks=all), idempotent, lightly batched."""
    from streams.topics import kafka_client_kwargs

    cfg: dict[str, Any] = kafka_client_kwargs(settings)
    if bootstrap:
        cfg["bootstrap_servers"] = bootstrap.split(",")
    cfg.update(acks="all", linger_ms=5, retries=5, max_in_flight_requests_per_connection=5,
               enable_idempotence=True, client_id="voc-replay")
    return cfg


def replay(
    lines: Iterable[bytes],
    producer: Any,
    settings: Settings,
    *,
    rate: float | None = None,
    topic_prefix: str | None = None,
    on_sent: Callable[[int], None] | None = None,
    flush_timeout_s: float = 60.0,
    retime_to_now: bool = False,
) -> ReplaySummary:
    """Send each line to its topic through ``producer`` (a kafka-python KafkaProducer).

    Failed sends (reported by the producer's futures) are counted, not raised, so one bad
    broker moment is visible in the summary; the producer is flushed before returning.
    ``retime_to_now`` stamps each valid-looking record with the send time (see ``retime``).
    """
    summary = ReplaySummary()
    limiter = RateLimiter(rate)
    futures: list[tuple[str, Any]] = []
    start = time.monotonic()
    for line in lines:
        routed = classify(line)
        topic = topic_for(routed.kind, settings, topic_prefix)
        limiter.acquire()
        if retime_to_now:
            line = retime(line, routed.kind)
        futures.append((topic, producer.send(topic, value=line, key=routed.key)))
        summary.by_kind[routed.kind] += 1
        if on_sent is not None:
            on_sent(1)
    producer.flush(timeout=flush_timeout_s)
    for topic, fut in futures:
        try:
            fut.get(timeout=flush_timeout_s)
        except Exception as exc:
            summary.failed += 1
            if len(summary.errors) < 10:
                summary.errors.append(f"{topic}: {type(exc).__name__}: {exc}"[:300])
        else:
            summary.sent += 1
            summary.by_topic[topic] += 1
    summary.elapsed_s = time.monotonic() - start
    return summary
