"""Settings come from VOC_* environment variables, nested with __."""

from pathlib import Path

import pytest

from streams.settings import Settings


def test_defaults_bind_loopback_and_use_contract_topics() -> None:
    s = Settings()
    assert s.web_host == "127.0.0.1"
    assert s.topic("enriched") == "voc.feedback.enriched"
    assert s.search_alias == "voc-feedback"


def test_env_overrides_nested_fields(monkeypatch) -> None:
    monkeypatch.setenv("VOC_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("VOC_ENRICH__URGENCY__HIGH", "0.7")
    monkeypatch.setenv("VOC_STACK__KAFKA_PORT", "19092")
    s = Settings()
    assert s.topic("deadletter") == "staging.voc.deadletter"
    assert s.enrich.urgency.high == 0.7
    assert s.stack.kafka_port == 19092


def test_producer_linger_reaches_faust(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VOC_KAFKA_PRODUCER_LINGER_MS (milliseconds) becomes Faust's producer_linger (seconds)."""
    from streams.app import create_app

    assert create_app(Settings(worker_data_dir=tmp_path)).conf.producer_linger == 0.005
    monkeypatch.setenv("VOC_KAFKA_PRODUCER_LINGER_MS", "0")
    assert create_app(Settings(worker_data_dir=tmp_path)).conf.producer_linger == 0.0


def test_operator_aliases_follow_the_feedback_alias_without_nesting_under_it() -> None:
    from streams.settings import Settings

    assert [Settings().alias(i) for i in ("feedback", "followups", "deadletters", "audit")] == [
        "voc-feedback", "voc-followups", "voc-deadletters", "voc-audit"]
    run = Settings(search_alias="t-1")
    # never "t-1-followups": the feedback template's pattern t-1-* would claim its indices
    assert run.alias("followups") == "t-1_followups" and run.alias("audit") == "t-1_audit"
    assert Settings(search_followups_alias="cases").alias("followups") == "cases"
