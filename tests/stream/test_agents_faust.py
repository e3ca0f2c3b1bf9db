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
    enricher = FakeEnricher()
    wiring = define_agents(app, settings, enricher=enricher, backend=backend,
                           metrics=metrics, parse=parse)
    sent: list[tuple[str, bytes | None, bytes]] = []
    headers: list[Any] = []  # the headers of each record of ``sent``

    async def fake_send(self: Any, key: Any = None, value: Any = None, **kw: Any) -> Any:
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        sent.append((self.get_topic_name(), key, value))
        headers.append(kw.get("headers"))
        return fut

    monkeypatch.setattr(faust.topics.Topic, "send", fake_send)
    return {"agents": wiring.agents, "sent": sent, "backend": backend, "settings": settings,
            "headers": headers, "enricher": enricher, "wiring": wiring}


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
                               "deadletter-index", "audit-index", "contacts"}
    # inbound -> contacts (re-keyed by customer) -> enrich, which counts in its table
    assert app.agents["enrich"].channel.get_topic_name() == "tc.voc.contacts.by-customer"
    assert set(app.agents["contacts"].channel.topics) == {"tc.voc.sms.inbound",
                                                          "tc.voc.survey.replies"}
    assert app.agents["audit-index"].channel.get_topic_name() == "tc.voc.audit"
    assert app.agents["followup-state"].channel.get_topic_name() == \
        "tc.voc-pipeline-followup-state"
    assert len(app._app_tasks) == 3  # follow-up SLA scan, consumer-lag sample, contacts sweep
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


async def test_repeat_contacts_are_rekeyed_by_customer_and_counted_in_the_table(wired) -> None:  # type: ignore[no-untyped-def]
    """contacts agent: keyed by customer, origin in a header; enrich agent: counts each
    contact in the table once (a redelivered message gets its first count again) and hands
    the handler the original record (a dead letter names the inbound topic and offset)."""
    from processors.pseudonym import pseudonymise_customer
    from streams.handlers.common import RawEvent
    from streams.handlers.contacts import ORIGIN_HEADER, origin_header

    contacts, enrich = wired["agents"][6], wired["agents"][0]
    sent, headers = wired["sent"], wired["headers"]
    rekey = wired["wiring"].rekey_handler
    inbound = [
        RawEvent("tc.voc.sms.inbound", 0, 10, b"k1", sms("SM1", at="2026-11-20T10:00:00Z")),
        RawEvent("tc.voc.sms.inbound", 1, 11, b"k2", sms("SM2", at="2026-11-22T10:00:00Z")),
        RawEvent("tc.voc.sms.inbound", 2, 12, b"k3", b"not json"),
        RawEvent("tc.voc.sms.inbound", 0, 13, b"k4", sms("SM3", at="2026-11-30T10:00:00Z")),
    ]
    out = await rekey.handle(inbound)
    c1 = pseudonymise_customer("C1", rekey.pseudonym_key).encode()  # as the enrich step has it
    assert [r.key for r in out.records] == [c1, c1, b"k3", c1]
    assert all(r.topic == "contacts" for r in out.records)
    async with contacts.test_context() as agent:  # the agent publishes what the handler built
        await agent.put(sms("SM9"), key=b"k9")
        await wait_for(lambda: len(sent) == 1)
    assert sent[0][:2] == ("tc.voc.contacts.by-customer", c1)
    assert dict(headers[0])[ORIGIN_HEADER]
    sent.clear()
    async with enrich.test_context() as agent:
        for rec in (*out.records, out.records[0]):  # SM1 is delivered twice
            await agent.put(rec.value, key=rec.key, headers=list(rec.headers))
        await wait_for(lambda: sum(n for n, _ in wired["enricher"].calls) == 4
                       and any(t == "tc.voc.deadletter" for t, _, _ in sent))
    counts = [c for _, cs in wired["enricher"].calls for c in (cs or [])]
    # SM1 first; SM2 two days later; SM3 8 days after SM2... 10 after SM1: alone; SM1 again
    assert counts == [1, 2, 1, 1]
    dl = next(json.loads(v) for t, _, v in sent if t == "tc.voc.deadletter")
    assert (dl["source_topic"], dl["partition"], dl["offset"]) == ("tc.voc.sms.inbound", 2, 12)
    assert origin_header(inbound[2])  # the header round-trips the original coordinates


def test_enrich_stops_when_the_contacts_topic_and_table_disagree_on_partitions(
        wired, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from faust.exceptions import PartitionsMismatch

    w = wired["wiring"]
    contacts = "tc.voc.contacts.by-customer"
    changelog = w.contacts_table.changelog_topic.get_topic_name()
    assert changelog == "voc-pipeline-recent-contacts-changelog"
    counts = {contacts: 8, changelog: 4}
    monkeypatch.setattr(w.app.consumer, "topic_partitions", counts.get)
    with pytest.raises(PartitionsMismatch, match="8 partitions"):
        w._check_copartitioned()
    counts[contacts] = 4
    w._check_copartitioned()
    del counts[changelog]
    w._check_copartitioned()  # metadata not known yet: checked again on the next batch
    counts.update({changelog: 4, contacts: 12})  # grown while running
    with pytest.raises(PartitionsMismatch):
        w._check_copartitioned()


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
    # the re-key step picks the customer key and contact time as the enrich step does
    assert w.rekey_handler.pseudonym_key == key
    assert w.rekey_handler.time_window == w.enrich_handler.time_window
    for handler in (w.enrich_handler, w.index_handler, w.intake, w.audit_index_handler):
        assert handler.dead.policy is policy


async def test_the_sweep_drops_idle_customers_of_this_workers_partitions_only(
        wired, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import time

    from faust.types import TP

    from streams.contacts import key_partition

    w = wired["wiring"]
    topic = "tc.voc.contacts.by-customer"
    now = time.time()
    day = 86400.0
    keys = [f"cid_{i}" for i in range(40)]
    mine = {key_partition(keys[0], 4), key_partition(keys[1], 4)}
    monkeypatch.setattr(w.app.consumer, "assignment", lambda: {TP(topic, p) for p in mine})
    monkeypatch.setattr(w.app.consumer, "topic_partitions", lambda t: 4 if t == topic else None)
    tombstones: list[tuple[int, str, object]] = []
    monkeypatch.setattr(w.contacts_table, "send_changelog",
                        lambda p, k, v, **kw: tombstones.append((p, k, v)))
    for i, key in enumerate(keys):  # even: last contact 15 days ago; odd: 13 days ago
        w.contacts_table.data[key] = [[now - (15 if i % 2 == 0 else 13) * day, f"sms:{i}"]]
    gone = await w.contacts_sweep()
    expected = {k for i, k in enumerate(keys) if i % 2 == 0 and key_partition(k, 4) in mine}
    assert gone == len(expected) > 0
    assert {(k, v) for _, k, v in tombstones} == {(k, None) for k in expected}
    assert all(p == key_partition(k, 4) for p, k, _ in tombstones)
    assert set(w.contacts_table.data) == set(keys) - expected  # others' partitions untouched
