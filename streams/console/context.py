"""What every console page needs, behind small Protocols so tests can build their own.

``ConsoleContext`` carries the settings, a read-only search seam, a Kafka publisher and an
HTTP client for Prometheus/Alertmanager. The real implementations reuse the worker's
client construction (``streams.search.factory.make_backend``) and Kafka security mapping,
so the console talks to the same clusters the same way the worker does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from aiohttp import web

from streams.settings import Settings

log = logging.getLogger(__name__)

AUDIT_SCHEMA_VERSION = 1


class ConsoleSearch(Protocol):
    """Read-only access to the search indices (by alias)."""

    async def search(self, alias: str, body: dict[str, object]) -> dict[str, object]:
        """The engine's raw search response; an alias that does not exist yet gives no hits."""
        ...

    async def get(self, alias: str, doc_id: str) -> dict[str, Any] | None:
        """The ``_source`` of one document by ``_id`` behind ``alias``, or None."""
        ...

    async def close(self) -> None: ...


class EventPublisher(Protocol):
    """Writes one record to Kafka and returns once the broker has acknowledged it."""

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None: ...

    async def close(self) -> None: ...


class PublishError(RuntimeError):
    """Kafka did not take the record: the caller shows it and changes nothing else."""


EMPTY_RESPONSE: dict[str, object] = {"hits": {"total": {"value": 0, "relation": "eq"},
                                              "hits": []}, "aggregations": {}}


def _is_not_found(exc: BaseException) -> bool:
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None),
                                                            "status", None)
    return status == 404 or type(exc).__name__ == "NotFoundError"


class EngineSearch:
    """``ConsoleSearch`` over the worker's own async client (OpenSearch or Elasticsearch).

    The client comes from ``make_backend`` (auth, TLS, compat pinning all as the worker
    does), built on first use so the console starts, and serves its login page, while the
    cluster is down. Only the per-engine call shape differs: opensearch-py takes ``body=``,
    elasticsearch-py 8/9 takes the body's keys as keyword arguments.
    """

    def __init__(self, settings: Settings, client: Any = None, engine: str = "") -> None:
        self.settings = settings
        self.client = client
        self.engine = engine
        self._lock = asyncio.Lock()

    async def _ready(self) -> Any:
        async with self._lock:
            if self.client is None:
                from streams.search.factory import make_backend

                backend = await asyncio.to_thread(make_backend, self.settings)
                self.client, self.engine = backend.client, backend.name
            return self.client

    async def search(self, alias: str, body: dict[str, object]) -> dict[str, object]:
        client = await self._ready()
        try:
            if self.engine == "opensearch":
                return dict(await client.search(index=alias, body=body))
            return dict((await client.search(index=alias, **body)).body)
        except Exception as exc:
            if _is_not_found(exc):  # the alias has no index yet: nothing to show
                return json.loads(json.dumps(EMPTY_RESPONSE))
            raise

    async def get(self, alias: str, doc_id: str) -> dict[str, Any] | None:
        # an alias over monthly indices cannot serve GET /_doc: ask by id instead
        from streams.console.queries import hits_of

        resp = await self.search(alias, {"size": 1, "query": {"ids": {"values": [doc_id]}}})
        hits = hits_of(resp)
        if not hits:
            return None
        return dict(hits[0].get("_source") or {})

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None


def kafka_security_kwargs(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for the configured Kafka security (``streams.security``,
    the same mapping as the worker's)."""
    from streams.security import aiokafka_security

    return aiokafka_security(settings)


class KafkaPublisher:
    """``EventPublisher`` on one aiokafka producer (acks=all), started on first use so the
    console serves read-only pages while Kafka is down."""

    MISSING_TOPIC_TTL_S = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: Any = None
        self._lock = asyncio.Lock()
        # topics the broker said do not exist: refused at once for a while instead of
        # each request waiting the full metadata timeout (topics are never auto-created)
        self._missing: dict[str, float] = {}

    async def _started(self) -> Any:
        async with self._lock:
            if self._producer is None:
                from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    max_request_size=5_000_000,  # a re-driven original can be 2.5 MB
                    request_timeout_ms=15_000,
                    **kafka_security_kwargs(self.settings),
                )
                try:
                    await producer.start()
                except Exception as exc:
                    await producer.stop()
                    raise PublishError(f"Kafka is not reachable: {exc}") from exc
                self._producer = producer
            return self._producer

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        if self._missing.get(topic, 0.0) > time.monotonic():
            raise PublishError(f"topic {topic} does not exist: run `voc topics create`")
        producer = await self._started()
        try:
            await producer.send_and_wait(topic, value=value, key=key)
        except Exception as exc:
            if type(exc).__name__ == "UnknownTopicOrPartitionError":
                self._missing[topic] = time.monotonic() + self.MISSING_TOPIC_TTL_S
                raise PublishError(f"topic {topic} does not exist: run `voc topics create`") \
                    from exc
            raise PublishError(f"Kafka did not accept the record: {exc}") from exc

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class ConsoleContext:
    """Settings plus the three seams (search, Kafka, HTTP) the pages use."""

    settings: Settings
    search: ConsoleSearch
    publisher: EventPublisher
    http: httpx.AsyncClient
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleContext:
        """Real implementations; each connects on first use, so nothing here blocks."""
        return cls(settings=settings, search=EngineSearch(settings),
                   publisher=KafkaPublisher(settings), http=httpx.AsyncClient(timeout=5.0))

    def topic(self, name: str) -> str:
        """A contract topic's full name (``followup_outcomes``, ``deadletter``...)."""
        return self.settings.topic(name)

    @property
    def audit_topic(self) -> str:
        return self.settings.topic("audit")

    async def audit(self, actor: str, role: str, action: str, target: str, detail: str,
                    result: str) -> dict[str, Any]:
        """Publish one AuditEvent to ``voc.audit`` (key = target) and return it.

        Never raises: an audit that cannot be written is logged loudly, but the caller's
        action (already on Kafka, or a login) is not undone by it.
        """
        event: dict[str, Any] = {
            "schema_version": AUDIT_SCHEMA_VERSION, "id": uuid.uuid4().hex,
            "at": utcnow_iso(), "actor": actor, "role": role, "action": action,
            "target": target, "detail": detail, "result": result,
        }
        try:
            await self.publisher.publish(self.audit_topic, target.encode("utf-8"),
                                         json.dumps(event).encode("utf-8"))
        except Exception as exc:
            log.error("audit event %s %s on %s not written: %s", action, result, target, exc)
        return event

    async def close(self) -> None:
        for closer in (self.publisher.close(), self.search.close(), self.http.aclose()):
            try:
                await closer
            except Exception as exc:  # closing must finish even if one client is broken
                log.warning("closing console client: %s", exc)


CTX: web.AppKey[ConsoleContext] = web.AppKey("voc_console_ctx", ConsoleContext)


def ctx_of(request: web.Request) -> ConsoleContext:
    """The console context of the app serving ``request``."""
    return request.app[CTX]
