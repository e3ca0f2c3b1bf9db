"""The console's seams: Kafka security mapping, the search adapter's call shapes, audit."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from streams.console.context import EngineSearch, PublishError, kafka_security_kwargs
from streams.settings import Settings
from tests.unit.console_fakes import console_settings, fake_context


def test_plaintext_kafka_has_no_security_arguments() -> None:
    assert kafka_security_kwargs(Settings()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_maps_like_the_worker() -> None:
    s = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                 kafka_sasl_username="u", kafka_sasl_password="p")
    kw = kafka_security_kwargs(s)
    assert kw["security_protocol"] == "SASL_SSL"
    assert kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kw["sasl_plain_username"] == "u" and kw["sasl_plain_password"] == "p"
    assert isinstance(kw["ssl_context"], ssl.SSLContext)


def test_sasl_without_credentials_is_refused() -> None:
    """Refused when the settings are built (before any client), and by the mapping itself
    for settings changed afterwards with ``model_copy`` (which skips validation)."""
    from streams.settings import ConfigError

    with pytest.raises(ConfigError, match="SASL"):
        Settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValueError, match="SASL"):
        kafka_security_kwargs(Settings().model_copy(
            update={"kafka_security_protocol": "SASL_SSL"}))


class _NotFound(Exception):
    status_code = 404


class _OSClient:
    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    async def search(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        if self.fail:
            raise self.fail
        return {"hits": {"hits": [{"_id": "x", "_source": {"id": "x", "text": "t"}}]}}

    async def close(self) -> None:
        return None


async def test_opensearch_shape_and_get_by_ids() -> None:
    client = _OSClient()
    search = EngineSearch(Settings(), client=client, engine="opensearch")
    assert await search.get("voc-feedback", "x") == {"id": "x", "text": "t"}
    assert client.calls == [{"index": "voc-feedback", "body": {
        "size": 1, "query": {"ids": {"values": ["x"]}}}}]


async def test_missing_alias_is_an_empty_answer_other_errors_raise() -> None:
    search = EngineSearch(Settings(), client=_OSClient(_NotFound()), engine="opensearch")
    resp = await search.search("voc-followups", {"size": 1})
    assert resp["hits"]["hits"] == []  # type: ignore[index]
    assert await search.get("voc-followups", "x") is None
    broken = EngineSearch(Settings(), client=_OSClient(RuntimeError("boom")), engine="opensearch")
    with pytest.raises(RuntimeError):
        await broken.search("voc-feedback", {})


async def test_audit_publishes_the_event_and_survives_a_broken_kafka(tmp_path: Path) -> None:
    ctx, _, pub = fake_context(console_settings(tmp_path))
    event = await ctx.audit("bob", "agent", "claimed", "followup:1", "{}", "applied")
    [(topic, key, value)] = pub.sent
    assert topic == "voc.audit" and key == b"followup:1"
    assert json.loads(value) == event and event["schema_version"] == 1

    async def down(topic: str, key: bytes | None, value: bytes) -> None:
        raise PublishError("Kafka is not reachable")

    pub.on_publish = down
    await ctx.audit("bob", "agent", "login", "bob", "", "ok")  # logged, never raised
