"""The metrics contract: names and labels from docs/architecture.md, isolated per registry."""

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from streams.metrics import METRICS, Metrics

CONTRACT = {
    "voc_messages_in": "counter",
    "voc_enriched": "counter",
    "voc_rants": "counter",
    "voc_deadletter": "counter",
    "voc_event_time_corrected": "counter",
    "voc_enrich_batch_seconds": "histogram",
    "voc_index_docs": "counter",
    "voc_end_to_end_seconds": "histogram",
    "voc_followups_open": "gauge",
    "voc_followup_sla_breaches": "counter",
    "voc_index_retries": "counter",
    "voc_search_up": "gauge",
    "voc_operator_docs": "counter",
    "voc_followup_outcomes": "counter",
    "voc_subject_mentions": "counter",
}


def _families(m: Metrics) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(m.render().decode())}


def test_every_contract_metric_is_exposed_with_its_type() -> None:
    fams = _families(Metrics(CollectorRegistry()))
    for name, kind in CONTRACT.items():
        assert fams.get(name) == kind, name


def test_counters_count_per_label_and_registries_are_isolated() -> None:
    a, b = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    a.messages_in.labels(source="sms").inc(3)
    a.enriched.labels(channel="survey", sentiment="negative").inc()
    a.rants.labels(priority="P1").inc(2)
    a.deadletter.labels(reason="invalid_json").inc()
    a.index_docs.labels(result="ok").inc(5)
    a.followup_sla_breaches.inc()
    a.followups_open.set(4)
    assert a.value("voc_messages_in_total", {"source": "sms"}) == 3
    assert a.value("voc_enriched_total", {"channel": "survey", "sentiment": "negative"}) == 1
    assert a.value("voc_rants_total", {"priority": "P1"}) == 2
    assert a.value("voc_deadletter_total", {"reason": "invalid_json"}) == 1
    assert a.value("voc_index_docs_total", {"result": "ok"}) == 5
    assert a.value("voc_followup_sla_breaches_total") == 1
    assert a.value("voc_followups_open") == 4
    assert b.value("voc_messages_in_total", {"source": "sms"}) == 0


def test_histograms_observe_into_buckets() -> None:
    m = Metrics(CollectorRegistry())
    m.end_to_end_seconds.observe(0.3)
    m.end_to_end_seconds.observe(7.0)
    m.enrich_batch_seconds.observe(0.02)
    assert m.value("voc_end_to_end_seconds_count") == 2
    assert m.value("voc_end_to_end_seconds_bucket", {"le": "0.5"}) == 1
    assert m.value("voc_end_to_end_seconds_bucket", {"le": "10.0"}) == 2
    assert m.value("voc_enrich_batch_seconds_sum") == 0.02


def test_default_instance_lives_on_the_process_registry() -> None:
    text = METRICS.render().decode()
    assert "voc_index_retries_total" in text
    assert "process_" in text or "python_info" in text
