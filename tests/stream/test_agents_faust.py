"""The agents themselves, driven through Faust's ``agent.test_context()`` (no broker).

Outgoing sends are captured by patching ``Topic.send``; the handlers behind the agents
are covered in detail by the other tests in this folder.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import faust.topics
import pytest

from streams.agents import define_agents
from streams.app import create_app
from streams.settings import Settings
from tests.stream.conftest import FakeEnricher, parse, sms


class NullBackend:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None

    async def ensure_index(self) -> None:
        return None

    async def bulk_index(self, docs: list[dict[str, Any]]) -> list[Any]:
        from streams.search import IndexResult

        self.docs.extend(docs)
        return [IndexResult(id=d["id"], ok=True, status=201) for d in docs]


@pytest.fixture
def wired(tmp_path: Path, metrics, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    settings = Settings(worker_data_dir=tmp_path, topic_prefix="tc.", batch_within_s=0.05,
                        batch_size=8)
    app = create_app(settings)
    backend = NullBackend()
    wiring = define_agents(app, settings, enricher=FakeEnricher(), backend=backend,
                           metrics=metrics, parse=parse)
    sent: list[tuple[str, bytes | None, bytes]] = []

    async def fake_send(self: Any, key: Any = None, value: Any = None, **_: Any) -> Any:
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        sent.append((self.get_topic_name(), key, value))
        return fut

    monkeypatch.setattr(faust.topics.Topic, "send", fake_send)
    return {"agents": wiring.agents, "sent": sent, "backend": backend, "settings": settings}


async def wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_enrich_agent_publishes_enriched_followup_and_deadletter(wired) -> None:  # type: ignore[no-untyped-def]
    enrich = wired["agents"][0]
    sent = wired["sent"]
    async with enrich.test_context() as agent:
        await agent.put(sms("SM1", "RANT charged twice"), key=b"k1")
        await agent.put(b"not json", key=b"k2")
        # generous: the agent first starts the budget's child process (streams.budget)
        await wait_for(lambda: len(sent) >= 3, timeout=60.0)
    topics = sorted(t for t, _, _ in sent)
    assert topics == ["tc.voc.deadletter", "tc.voc.feedback.enriched", "tc.voc.followups"]
    dl = next(json.loads(v) for t, _, v in sent if t == "tc.voc.deadletter")
    assert dl["reason"] == "invalid_json"


async def test_index_agent_indexes_enriched_documents(wired) -> None:  # type: ignore[no-untyped-def]
    index = wired["agents"][1]
    doc = {"id": "sms:SM1", "received_at": "2026-11-25T18:00:00Z"}
    async with index.test_context() as agent:
        await agent.put(json.dumps(doc).encode(), key=b"C1")
        await wait_for(lambda: len(wired["backend"].docs) == 1)
    assert wired["backend"].docs == [doc]


def test_the_worker_factory_wires_every_agent_timer_and_view(tmp_path: Path, metrics) -> None:  # type: ignore[no-untyped-def]
    from streams.app import build_worker_app
    from streams.consumer import SafeConsumer

    settings = Settings(worker_data_dir=tmp_path, topic_prefix="tc.")
    app = build_worker_app(settings, enricher=FakeEnricher(), backend=NullBackend(),
                           metrics=metrics)
    assert set(app.agents) == {"enrich", "index", "followup-intake", "followup-state",
                               "deadletter-index", "audit-index"}
    assert app.agents["audit-index"].channel.get_topic_name() == "tc.voc.audit"
    assert app.agents["followup-state"].channel.get_topic_name() == \
        "tc.voc-pipeline-followup-state"
    assert len(app._app_tasks) == 2  # the follow-up SLA scan and the consumer-lag sample
    assert app.transport.Consumer is SafeConsumer


async def test_followup_state_agent_indexes_each_changed_case(wired) -> None:  # type: ignore[no-untyped-def]
    state = wired["agents"][3]
    opened = {"op": "open", "id": "followup:sms:1", "priority": "P1",
              "due_by": "2026-11-25T20:00:00+00:00", "customer_id": "C1",
              "case": {"brand": "acme", "text": "charged twice", "received_at":
                       "2026-11-25T18:00:00Z"}}
    claim = {"op": "outcome", "id": "followup:sms:1", "outcome": "claimed", "agent": "ana",
             "at": "2026-11-25T18:05:00Z", "action_id": "a1", "expected_version": 1}
    stale = {**claim, "agent": "ben", "action_id": "b1"}  # saw version 1 too: loses
    key = b"followup:sms:1"
    async with state.test_context() as agent:
        for op in (opened, claim, stale):
            await agent.put(json.dumps(op).encode(), key=key)
        await wait_for(lambda: any(d.get("assignee") for d in wired["backend"].docs))
    docs = wired["backend"].docs  # a batch writes only the latest state of each case
    assert docs[-1]["state"] == "claimed" and docs[-1]["assignee"] == "ana"
    assert docs[-1]["version"] == 2  # the stale claim from ben changed nothing
    assert [h["agent"] for h in docs[-1]["history"]] == ["ana"]
    assert docs[-1]["text"] == "charged twice"


async def test_deadletter_and_audit_agents_index_operator_documents(wired) -> None:  # type: ignore[no-untyped-def]
    from streams.deadletter import build_deadletter, deadletter_bytes

    dl_agent, audit_agent = wired["agents"][4], wired["agents"][5]
    dl = build_deadletter(source_topic="tc.voc.sms.inbound", partition=0, offset=5, key=None,
                          reason="invalid_json", error="bad", original=b"call 07700 900123")
    event = {"id": "e1", "at": "2026-11-25T18:00:00Z", "actor": "ana", "action": "discard",
             "target": "0:1"}
    async with dl_agent.test_context() as agent:
        await agent.put(deadletter_bytes(dl), key=b"tc.voc.sms.inbound")
        await wait_for(lambda: len(wired["backend"].docs) == 1)
    async with audit_agent.test_context() as agent:
        await agent.put(json.dumps(event).encode(), key=b"0:1")
        await agent.put(b"{}", key=b"x")  # not an audit event: parked, never lost
        await wait_for(lambda: len(wired["backend"].docs) == 2 and wired["sent"])
    dl_doc, audit = wired["backend"].docs
    assert dl_doc["reason"] == "invalid_json" and "900123" not in dl_doc["preview"]
    assert audit["action"] == "discard" and audit["actor"] == "ana"
    assert [json.loads(v)["reason"] for t, _, v in wired["sent"]] == ["invalid_audit"]


def test_the_worker_wires_the_pseudonym_key_dead_letter_policy_and_time_window(
    tmp_path: Path, metrics,  # type: ignore[no-untyped-def]
) -> None:
    from datetime import timedelta

    key_file = tmp_path / "key"
    key_file.write_bytes(b"agents-test-pseudonym-key-0123456789\n")
    settings = Settings(worker_data_dir=tmp_path, topic_prefix="tc.",
                        pseudonym_key_file=key_file, event_time_max_future_s=60,
                        event_time_max_past_days=2)
    w = define_agents(create_app(settings), settings, enricher=FakeEnricher(),
                      backend=NullBackend(), metrics=metrics, parse=parse)
    key = b"agents-test-pseudonym-key-0123456789"
    assert w.enrich_handler.pseudonym_key == key
    assert w.enrich_handler.time_window.max_future == timedelta(seconds=60)
    assert w.enrich_handler.time_window.max_past == timedelta(days=2)
    policy = w.deadletter_policy
    assert policy.hash_key == key and policy.keep_original is False
    assert policy.minimised_sources == {"tc.voc.feedback.enriched", "tc.voc.followups"}
    for handler in (w.enrich_handler, w.index_handler, w.intake, w.audit_index_handler):
        assert handler.dead.policy is policy
