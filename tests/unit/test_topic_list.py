"""The list of Kafka topics has one home, ``schemas.topics``; everything else derives from it."""

from __future__ import annotations

import ast
from pathlib import Path

from schemas.topics import INTERNAL_TOPICS, TOPICS
from streams.settings import Settings, TopicLayout, TopicNames
from streams.topics import TOPIC_CONFIGS, topic_specs

ROOT = Path(__file__).resolve().parents[2]


def test_settings_have_one_name_field_per_topic_of_the_table() -> None:
    names = set(TopicNames.model_fields) - set(TopicLayout.model_fields)
    assert names == {t.logical for t in (*TOPICS, *INTERNAL_TOPICS)}
    for t in (*TOPICS, *INTERNAL_TOPICS):
        assert getattr(Settings().topics, t.logical) == t.default_name


def test_created_topics_are_exactly_the_contract_topics() -> None:
    assert list(TOPIC_CONFIGS) == [t.logical for t in TOPICS]
    specs = topic_specs(Settings(topic_prefix="p."))
    assert [s.name for s in specs] == [f"p.{t.default_name}" for t in TOPICS]


def test_the_follow_up_state_topic_is_a_named_internal_topic() -> None:
    s = Settings(topic_prefix="p.", consumer_group="g")
    assert s.topic("state") == "p.g-followup-state"
    assert "state" not in TOPIC_CONFIGS  # Faust creates it, not ``voc topics create``


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


def test_no_other_module_spells_out_a_topic_name() -> None:
    """Contract names (``voc.feedback.enriched``) appear as code only in ``schemas/topics.py``."""
    defaults = {t.default_name for t in TOPICS}
    offenders = {}
    for pkg in ("schemas", "processors", "streams"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path == ROOT / "schemas" / "topics.py":
                continue
            found = defaults & _string_constants(path)
            if found:
                offenders[str(path.relative_to(ROOT))] = sorted(found)
    assert not offenders, offenders


def test_dead_letter_retention_is_a_setting_and_inbound_topics_use_broker_time() -> None:
    day_ms = 24 * 3600 * 1000
    default = {s.logical: s.configs for s in topic_specs(Settings())}
    assert default["deadletter"]["retention.ms"] == str(30 * day_ms)
    short = Settings(topics={"deadletter_retention_days": 7})
    specs = {s.logical: s.configs for s in topic_specs(short)}
    assert specs["deadletter"]["retention.ms"] == str(7 * day_ms)
    assert specs["audit"]["retention.ms"] == str(365 * day_ms)  # the others keep theirs
    for logical in ("sms_inbound", "survey_replies"):
        assert specs[logical]["message.timestamp.type"] == "LogAppendTime"
    assert "message.timestamp.type" not in specs["enriched"]
