"""The worker, built in one place from ``Settings`` (never from module globals).

``build_worker_app`` is the factory ``voc worker`` runs: it makes the enricher, the search
sink and the metrics, and wires every agent (``streams.agents``) and web view onto the app
``create_app`` configures. Choices worth knowing:

* values are ``raw`` bytes on our topics: the agents parse them, so a payload that
  is not even JSON still reaches the dead-letter topic with its original bytes;
* contract topics are created by ``voc topics create`` with their partition counts,
  never by Faust: they are declared non-internal, which Faust never creates. Faust
  still creates its own internal topics (table changelogs, the follow-up re-key
  topic), so ``topic_allow_declare`` stays on; the leader topic is disabled;
* the web server binds ``settings.web_host`` (127.0.0.1 by default; Faust itself
  would bind every interface) and serves only ``/health`` and ``/metrics`` (plus Faust's
  bare production index at ``/``): Faust's ``/table/``, ``/router/``, statistics and graph
  views are turned off, because they expose table contents and cluster topology;
* the Kafka consumer is ``streams.consumer.SafeConsumer`` (``VocApp.transport_class``):
  Faust's own can commit past a message it never processed around a rebalance;
* the Faust id is ``settings.consumer_group``: it is the Kafka consumer group and the
  prefix of the table changelog topics.
"""

from __future__ import annotations

from typing import Any, ClassVar

import faust
from faust.types import TransportT

from processors.pipeline import Enricher, parse_inbound
from schemas.indices import AUDIT, DEADLETTERS, FOLLOWUPS
from streams.agents import RAW, OperatorSinks, define_agents
from streams.consumer import SafeTransport
from streams.metrics import METRICS, Metrics
from streams.search.lazy import LazyBackend
from streams.security import faust_broker_credentials
from streams.settings import Settings
from streams.types import BatchEnricher, ParseInbound, SearchSink
from streams.web import register_views


def broker_credentials(settings: Settings) -> Any:
    """Faust ``broker_credentials`` (SASL/SCRAM, TLS, mTLS) from ``streams.security``."""
    return faust_broker_credentials(settings)


def kafka_broker_urls(settings: Settings) -> list[str]:
    """``kafka://host:port`` for each bootstrap server."""
    return [f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",") if h.strip()]


class VocApp(faust.App):
    """A Faust app whose Kafka transport (and so its consumer) is chosen here."""

    #: Faust would pick the transport from the broker URL (``kafka://`` -> aiokafka's);
    #: ours is aiokafka's with ``SafeConsumer`` as its consumer (see ``streams.consumer``).
    transport_class: ClassVar[type[TransportT]] = SafeTransport

    def _new_transport(self) -> TransportT:
        return self.transport_class(self.conf.broker_consumer, self)


def create_app(settings: Settings) -> VocApp:
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
        # Faust's own views are off: /table/ serves table rows (follow-up state, personal
        # data) and /router/ the cluster's worker URLs, to anyone who reaches the port; we
        # route nothing across workers (no @table_route). /health and /metrics are ours.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
    )


def build_worker_app(
    settings: Settings,
    *,
    enricher: BatchEnricher | None = None,
    backend: SearchSink | None = None,
    metrics: Metrics | None = None,
    parse: ParseInbound = parse_inbound,
) -> VocApp:
    """The full worker: app + enricher + search sink + metrics + agents + web views.

    The heavy pieces can be injected (tests, benchmarks); by default they are built from
    settings here, so a broken model or config fails before Kafka is touched. The default
    metrics are ``streams.metrics.METRICS`` (the process-wide registry, which also carries
    the ``process_*`` metrics); the default sink connects on first use (``LazyBackend``).
    """
    metrics = metrics if metrics is not None else METRICS
    enricher = enricher if enricher is not None else Enricher(settings.enrich)
    sink = backend if backend is not None else LazyBackend(settings, metrics)
    operator_sinks = OperatorSinks(
        *(sink if backend is not None else LazyBackend(settings, metrics, index)
          for index in (FOLLOWUPS, DEADLETTERS, AUDIT))
    )
    app = create_app(settings)
    define_agents(app, settings, enricher=enricher, backend=sink, metrics=metrics,
                  parse=parse, operator_sinks=operator_sinks)
    register_views(app, settings, backend=sink, metrics=metrics)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode types async receivers badly
    async def _close_search(sender: Any, **_: Any) -> None:
        sinks = (sink, operator_sinks.followups, operator_sinks.deadletters, operator_sinks.audit)
        for each in {id(x): x for x in sinks}.values():  # an injected sink is closed once
            await each.close()
        # the per-message budget's child process is a daemon: it ends with the worker (its
        # pipe closes); closing it here could race a batch still in the enrichment thread

    return app
