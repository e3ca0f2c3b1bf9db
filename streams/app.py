"""The Faust app, built from ``Settings`` (never from module globals).

``create_app`` gives a bare app configured for our topics; ``build_worker_app``
adds the enricher, the search backend, the metrics and every agent and web view,
which is what ``voc worker`` runs. Choices worth knowing:

* values are ``raw`` bytes on our topics: the agents parse them, so a payload that
  is not even JSON still reaches the dead-letter topic with its original bytes;
* contract topics are created by ``voc topics create`` with their partition counts,
  never by Faust: they are declared non-internal, which Faust never creates. Faust
  still creates its own internal topics (table changelogs, the follow-up re-key
  topic), so ``topic_allow_declare`` stays on; the leader topic is disabled;
* the web server binds ``settings.web_host`` (127.0.0.1 by default; Faust itself
  would bind every interface);
* the Kafka consumer is ``streams.consumer.SafeConsumer``: Faust's own can commit
  past a message it never processed around a rebalance (see that module);
* the Faust id is ``settings.consumer_group``: it is the Kafka consumer group and the
  prefix of the table changelog topics.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import faust

from streams.settings import Settings

RAW = "raw"


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS context for SSL / SASL_SSL brokers (system CAs, or ``kafka_ssl_cafile``)."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=cafile)


def broker_credentials(settings: Settings) -> Any:
    """Faust ``broker_credentials`` from settings: SASL (PLAIN/SCRAM), TLS, or None."""
    ctx = kafka_ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
            raise ValueError(
                "VOC_KAFKA_SECURITY_PROTOCOL is SASL_* but VOC_KAFKA_SASL_USERNAME / "
                "VOC_KAFKA_SASL_PASSWORD are not set"
            )
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            ssl_context=ctx,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        )
    return ctx


def kafka_broker_urls(settings: Settings) -> list[str]:
    """``kafka://host:port`` for each bootstrap server."""
    return [f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",") if h.strip()]


class VocApp(faust.App):
    """A Faust app whose Kafka consumer is ``streams.consumer.SafeConsumer``."""

    def _new_transport(self) -> Any:
        from streams.consumer import SafeConsumer

        transport = super()._new_transport()
        transport.Consumer = SafeConsumer
        return transport


def create_app(settings: Settings) -> faust.App:
    """A Faust app configured from settings, with no agents yet."""
    datadir = settings.worker_data_dir
    datadir.mkdir(parents=True, exist_ok=True)
    return VocApp(
        settings.consumer_group,
        broker=kafka_broker_urls(settings),
        broker_credentials=broker_credentials(settings),
        autodiscover=False,
        datadir=str(datadir),
        key_serializer=RAW,
        value_serializer=RAW,
        store="memory://",
        topic_allow_declare=True,
        topic_disable_leader=True,
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=settings.kafka_producer_linger_ms / 1000.0,
        producer_max_request_size=5_000_000,  # dead letters carry originals up to 2.5 MB
        stream_wait_empty=False,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
    )


def contract_topic(app: faust.App, settings: Settings, name: str) -> faust.TopicT:
    """A contract topic (raw bytes; created by ``voc topics create``, not by Faust)."""
    return app.topic(
        settings.topic(name),
        key_serializer=RAW,
        value_serializer=RAW,
        internal=False,
        partitions=settings.topics.partitions,
    )


class LazyBackend:
    """The search backend, connected on first use.

    The worker must start (and serve ``/health`` and ``/metrics``) even while the
    search cluster is down: the engine is detected and the template installed the
    first time the index agent needs them, with backoff until it answers.
    """

    def __init__(self, settings: Settings, metrics: Any) -> None:
        self.settings = settings
        self.metrics = metrics
        self._backend: Any | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> Any:
        """The connected backend (template and alias installed)."""
        if self._backend is None:
            from streams.search import connect_backend

            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._backend is None:
                    self._backend = await connect_backend(self.settings, metrics=self.metrics)
        return self._backend

    async def ensure_index(self) -> None:
        await (await self.get()).ensure_index()

    async def bulk_index(self, docs: list[dict[str, Any]]) -> Any:
        return await (await self.get()).bulk_index(docs)

    async def ping(self) -> bool:
        if self._backend is not None:
            return bool(await self._backend.ping())
        from streams.search import detect_backend

        try:
            await asyncio.to_thread(detect_backend, self.settings, 2.0)
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()


def build_worker_app(
    settings: Settings,
    *,
    enricher: Any | None = None,
    backend: Any | None = None,
    metrics: Any | None = None,
) -> faust.App:
    """The full worker: app + enricher + search backend + metrics + agents + web views.

    The heavy pieces can be injected (tests, benchmarks); by default they are built
    from settings here, so a broken model or config fails before Kafka is touched.
    The default metrics are ``streams.metrics.METRICS`` (the process-wide registry,
    which also carries the ``process_*`` metrics).
    """
    from streams.agents import register_all
    from streams.metrics import METRICS
    from streams.web import register_views

    metrics = metrics if metrics is not None else METRICS
    if enricher is None:
        from processors.pipeline import Enricher

        enricher = Enricher(settings.enrich)
    if backend is None:
        backend = LazyBackend(settings, metrics)
    app = create_app(settings)
    register_all(app, settings, enricher=enricher, backend=backend, metrics=metrics)
    register_views(app, settings, backend=backend, metrics=metrics)

    @app.on_before_shutdown.connect
    async def _close_search(app: faust.App, **_: Any) -> None:
        close = getattr(backend, "close", None)
        if close is not None:
            await close()

    return app
