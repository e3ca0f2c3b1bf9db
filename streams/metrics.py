"""Prometheus metrics of the pipeline (names and labels are the contract in docs/architecture.md).

Why a class: tests build ``Metrics(CollectorRegistry())`` so each test counts from zero
without touching the process-wide registry; the worker uses the module-level ``METRICS``
(registered on prometheus_client's default ``REGISTRY``) and serves ``render()`` on
``/metrics``. Alert rules in ``deploy/prometheus/rules.yml`` depend on these names.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

COST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ENRICH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# 0.75 splits the bucket below the 1 s p99 objective: without it histogram_quantile could
# not tell 0.55 s from 0.95 s
E2E_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class Metrics:
    """All pipeline metrics, registered on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages_in = Counter(
            "voc_messages_in_total", "Inbound records read, by source topic kind (sms, survey).",
            ["source"], registry=r)
        self.enriched = Counter(
            "voc_enriched_total", "EnrichedFeedback records published.",
            ["channel", "sentiment"], registry=r)
        self.rants = Counter(
            "voc_rants_total", "Rants detected (FollowUp records published), by priority.",
            ["priority"], registry=r)
        self.deadletter = Counter(
            "voc_deadletter_total", "Records sent to the dead-letter topic, by reason class.",
            ["reason"], registry=r)
        self.publish_errors = Counter(
            "voc_publish_errors_total", "Records the broker refused, by logical topic and "
            "failure class (permanent: dead-lettered as publish_rejected; retriable and "
            "blocked: retried).", ["topic", "failure"], registry=r)
        self.time_corrected = Counter(
            "voc_event_time_corrected_total", "Messages whose own time lay outside the skew "
            "window and was replaced by the broker's timestamp, by source.",
            ["source"], registry=r)
        self.enrich_batch_seconds = Histogram(
            "voc_enrich_batch_seconds", "Wall time to enrich one micro-batch.",
            buckets=ENRICH_BUCKETS, registry=r)
        self.message_cost_seconds = Histogram(
            "voc_message_cost_seconds", "CPU seconds of one message's parse and text cleaning "
            "(the per-message budget's measure, VOC_MESSAGE_BUDGET_S).",
            buckets=COST_BUCKETS, registry=r)
        self.enrich_batch_size = Histogram(
            "voc_enrich_batch_size", "Records per enrichment micro-batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=r)
        self.index_docs = Counter(
            "voc_index_docs_total", "Documents sent to the search index, by result "
            "(ok, error = permanent per-document failure, retryable = gave up retrying).",
            ["result"], registry=r)
        self.operator_docs = Counter(
            "voc_operator_docs_total", "Documents sent to the console's indices (followups, "
            "deadletters, audit), by index and result (as voc_index_docs_total).",
            ["index", "result"], registry=r)
        self.index_retries = Counter(
            "voc_index_retries_total", "Search calls retried after 429/5xx/connection errors.",
            registry=r)
        self.search_up = Gauge(
            "voc_search_up", "1 when the last search call succeeded, 0 while it is failing.",
            registry=r)
        self.index_last_success = Gauge(
            "voc_index_last_success_timestamp_seconds",
            "Unix time of the last bulk request the search cluster accepted (0 = none yet).",
            registry=r)
        self.end_to_end_seconds = Histogram(
            "voc_end_to_end_seconds", "Time from received_at to the document being indexed.",
            buckets=E2E_BUCKETS, registry=r)
        self.followups_open = Gauge(
            "voc_followups_open", "Follow-ups opened and not yet resolved or closed.", registry=r)
        self.followup_sla_breaches = Counter(
            "voc_followup_sla_breaches_total", "Follow-ups that passed their due_by while open.",
            registry=r)
        self.followup_outcomes = Counter(
            "voc_followup_outcomes_total",
            "Outcomes reported for follow-ups, by what the state agent did with them "
            "(applied, duplicate, conflict, ignored).", ["outcome", "result"], registry=r)
        # Bounded labels: brands are configured tenants, subjects the taxonomy's names
        # (processors/taxonomy.yaml); the VocTopicSpike rule compares each pair to its own
        # baseline.
        self.subject_mentions = Counter(
            "voc_subject_mentions_total", "Enriched feedback mentioning a taxonomy subject "
            "(taxonomy entry), by brand and subject.",
            ["brand", "subject"], registry=r)
        self.consumer_lag = Gauge(
            "voc_consumer_lag", "Records behind the log end, per topic (sampled by the worker).",
            ["topic"], registry=r)

    def render(self) -> bytes:
        """Exposition text for ``/metrics``."""
        return generate_latest(self.registry)

    content_type = CONTENT_TYPE_LATEST

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """Current value of one sample (0.0 if never observed): for tests and the demo."""
        v = self.registry.get_sample_value(name, labels or {})
        return float(v) if v is not None else 0.0


METRICS = Metrics(REGISTRY)
"""The worker's metrics, on prometheus_client's default registry (also exports process_*)."""
