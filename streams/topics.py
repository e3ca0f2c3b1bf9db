"""Explicit creation of every contract topic (never rely on broker auto-create).

Each topic of ``schemas.topics.TOPICS`` gets its partition count from ``Settings.topics``
and its own configs (retention, cleanup, timestamp type) so the topics look the same on a
laptop and in production. The dead-letter topic's retention is a setting
(``VOC_TOPICS__DEADLETTER_RETENTION_DAYS``): it holds what we failed to process.
Functions take a ``Settings`` so tests can create topics under a unique prefix.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from schemas.topics import INTERNAL_TOPICS, TOPICS, TopicDef
from streams.settings import Settings

_DAY_MS = 24 * 3600 * 1000
_MIB = 1024 * 1024


def _configs(t: TopicDef, retention_days: int | None = None) -> dict[str, str]:
    configs = {
        "cleanup.policy": "delete",
        "retention.ms": str((retention_days or t.retention_days) * _DAY_MS),
        "max.message.bytes": str(t.max_message_mib * _MIB),
    }
    if t.broker_time:
        configs["message.timestamp.type"] = "LogAppendTime"
    return configs


#: logical topic name -> default topic configs (everything else is the broker default);
#: ``topic_specs`` applies the settings on top (the dead-letter retention)
TOPIC_CONFIGS: dict[str, dict[str, str]] = {t.logical: _configs(t) for t in TOPICS}


def retention_days(settings: Settings, logical: str) -> int | None:
    """The configured retention of a topic, None where the contract's default holds."""
    if logical == "deadletter":
        return settings.topics.deadletter_retention_days
    return None


@dataclass(frozen=True)
class TopicSpec:
    """A topic as it should exist on the broker."""

    logical: str
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic of the contract, with the full (prefixed) name."""
    layout = settings.topics
    return [
        TopicSpec(
            logical=t.logical,
            name=settings.topic(t.logical),
            partitions=layout.partitions,
            replication_factor=layout.replication_factor,
            configs=_configs(t, retention_days(settings, t.logical)),
        )
        for t in TOPICS
    ]


def kafka_client_kwargs(settings: Settings) -> dict[str, Any]:
    """kafka-python connection arguments (bootstrap + ``streams.security``) from the settings."""
    from streams.security import kafka_python_security

    return {"bootstrap_servers": settings.kafka_bootstrap.split(","),
            **kafka_python_security(settings)}


def admin_client(settings: Settings, timeout_s: float | None = None) -> Any:
    """A kafka-python admin client; a broker that cannot be used (down, TLS, mTLS or SASL
    refused) raises ``KafkaUnavailable`` with the reason (``streams.kafka_check``)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    extra: dict[str, Any] = {}
    if timeout_s is not None:
        extra["request_timeout_ms"] = extra["bootstrap_timeout_ms"] = int(timeout_s * 1000)
    try:
        return KafkaAdminClient(client_id="voc-topics", **extra, **kafka_client_kwargs(settings))
    except KafkaError as exc:
        from streams.kafka_check import connect_error

        raise connect_error(settings, exc) from exc


def create_topics(settings: Settings, timeout_s: float = 30.0) -> dict[str, str]:
    """Create missing topics, grow partition counts that are too small.

    Returns ``{topic: "created" | "exists" | "partitions N->M" | "configs updated"}``;
    idempotent. Existing topics also get their configs brought in line with the spec.
    """
    from kafka.admin import NewPartitions, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # failures are explained instead
    admin = admin_client(settings, timeout_s)
    try:
        specs = topic_specs(settings)
        existing = set(admin.list_topics())
        outcome: dict[str, str] = {}
        new = [
            NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.configs)
            for s in specs
            if s.name not in existing
        ]
        if new:
            # a concurrent creator may win the race; that is fine
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new, timeout_ms=int(timeout_s * 1000))
            outcome.update({t.name: "created" for t in new})
        old = [s for s in specs if s.name in existing]
        if old:
            current = _partition_counts(admin, [s.name for s in old])
            grow = {
                s.name: NewPartitions(s.partitions)
                for s in old
                if current.get(s.name, s.partitions) < s.partitions
            }
            if grow:
                admin.create_partitions(grow)
            stale = _stale_configs(admin, old)
            for s in old:
                have = current.get(s.name, s.partitions)
                if s.name in grow:
                    outcome[s.name] = f"partitions {have}->{s.partitions}"
                elif s.name in stale:
                    outcome[s.name] = "configs updated"
                else:
                    outcome[s.name] = "exists"
        return outcome
    finally:
        admin.close()


def create_internal_topics(settings: Settings, timeout_s: float = 5.0) -> list[str]:
    """Create this worker group's internal topics (``schemas.topics.INTERNAL_TOPICS``) if
    missing, before Faust starts: the names it returns were created.

    Why: Faust creates them itself at start-up, moments before the consumer joins its group.
    When the consumer's metadata has not caught up, the first assignment skips the new topic
    ("Ignoring missing topic") and the worker was seen committing nothing at all for
    minutes, its stall watchdog replaying every partition from the start (the search-down
    fault test, twice in full-suite runs). Created here, the topic is in the first metadata.
    Same partition count and replication as Faust would use; a broker that refuses leaves it
    to Faust, as before."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    names = [settings.topic(t.logical) for t in INTERNAL_TOPICS]
    try:
        admin = admin_client(settings, timeout_s)
    except Exception as exc:  # the worker's own start-up check explains an absent broker
        logging.getLogger(__name__).warning("internal topics not created ahead: %r", exc)
        return []
    try:
        missing = [n for n in names if n not in set(admin.list_topics())]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [NewTopic(n, settings.topics.partitions, settings.topics.replication_factor)
                     for n in missing], timeout_ms=int(timeout_s * 1000))
        return missing
    finally:
        admin.close()


def describe_topics(settings: Settings) -> dict[str, int]:
    """Partition count of each contract topic that exists on the broker."""
    admin = admin_client(settings)
    try:
        names = [s.name for s in topic_specs(settings)]
        present = [n for n in names if n in set(admin.list_topics())]
        return _partition_counts(admin, present)
    finally:
        admin.close()


def delete_topics(settings: Settings) -> None:
    """Delete the contract topics under this settings' prefix (test clean-up)."""
    admin = admin_client(settings)
    try:
        names = [s.name for s in topic_specs(settings)]
        present = [n for n in names if n in set(admin.list_topics())]
        if present:
            admin.delete_topics(present)
    finally:
        admin.close()


def delete_internal_topics(settings: Settings) -> None:
    """Delete Faust's own topics of this consumer group (follow-up re-key topic, table
    changelog): clean-up after tests and benchmarks that ran a worker on their own group."""
    admin = admin_client(settings)
    try:
        mine = [t for t in admin.list_topics()
                if t.startswith(f"{settings.topic_prefix}{settings.consumer_group}-")
                or t.startswith(f"{settings.consumer_group}-")]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def _stale_configs(admin: Any, specs: list[TopicSpec]) -> set[str]:
    """Set the spec'd configs on existing topics whose values differ; their names."""
    from kafka.admin import ConfigResource, ConfigResourceType

    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs]
    )
    if not isinstance(described, dict):  # older kafka-python shapes: leave configs alone
        return set()
    by_topic = described.get("topic", {})
    stale = [
        s for s in specs
        if any(
            by_topic.get(s.name, {}).get(key, {}).get("value") != value
            for key, value in s.configs.items()
        )
    ]
    if stale:
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.configs) for s in stale]
        )
    return {s.name for s in stale}


def _partition_counts(admin: Any, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    # kafka-python 3.x calls the field "name", 2.x called it "topic"
    return {
        d.get("name", d.get("topic")): len(d["partitions"]) for d in admin.describe_topics(names)
    }
