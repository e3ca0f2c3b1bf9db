"""Follow-up SLA state: open, outcomes, breaches counted once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from streams.handlers.followups import (
    apply_followup_op,
    breach_op,
    followup_doc,
    route_followup_event,
    scan_followups,
)
from tests.stream.conftest import event

FU_TOPIC = "t.voc.followups"
OUT_TOPIC = "t.voc.followups.outcomes"


def followup(fid: str, due: str = "2026-11-25T20:00:00Z") -> bytes:
    return json.dumps({"id": fid, "priority": "P1", "due_by": due, "customer_id": "C1"}).encode()


def outcome(fid: str, kind: str) -> bytes:
    return json.dumps({"followup_id": fid, "outcome": kind, "at": "2026-11-25T19:00:00Z"}).encode()


def route(value: bytes, topic: str) -> list:  # type: ignore[type-arg]
    return route_followup_event(event(value, topic=topic), followups_topic=FU_TOPIC).records


def test_routing_rekeys_both_topics_by_followup_id() -> None:
    (rec,) = route(followup("followup:sms:1"), FU_TOPIC)
    assert rec.topic == "state" and rec.key == b"followup:sms:1"
    assert json.loads(rec.value)["op"] == "open"
    (rec,) = route(outcome("followup:sms:1", "resolved"), OUT_TOPIC)
    assert rec.key == b"followup:sms:1" and json.loads(rec.value)["outcome"] == "resolved"


def test_bad_followup_records_are_dead_lettered() -> None:
    (rec,) = route(b"nope", OUT_TOPIC)
    assert rec.topic == "deadletter" and json.loads(rec.value)["reason"] == "invalid_outcome"
    (rec,) = route(json.dumps({"id": "x"}).encode(), FU_TOPIC)
    assert json.loads(rec.value)["reason"] == "invalid_followup"


def ops(*values: tuple[bytes, str]) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(route(v, t)[0].value) for v, t in values]


def test_lifecycle_open_contacted_resolved() -> None:
    table: dict = {}  # type: ignore[type-arg]
    o = ops((followup("f1"), FU_TOPIC), (outcome("f1", "contacted"), OUT_TOPIC),
            (outcome("f1", "resolved"), OUT_TOPIC))
    assert [apply_followup_op(table, op) for op in o] == ["opened", "recorded", "closed"]
    assert table["f1"]["state"] == "closed"  # a marker: a redelivered open cannot reopen it
    assert apply_followup_op(table, o[0]) == "already_closed"
    assert scan_followups(table.items(), datetime(2030, 1, 1, tzinfo=UTC)) == (0, [])


def test_a_replayed_follow_up_keeps_the_first_deadline() -> None:
    """A replay (or an older worker's record) of the same follow-up with another ``due_by``
    never moves the deadline: the first open wins, live or closed, and so does its doc."""
    table: dict = {}  # type: ignore[type-arg]
    first, replayed = ops((followup("f1", "2026-11-25T20:00:00Z"), FU_TOPIC),
                          (followup("f1", "2026-11-28T09:00:00Z"), FU_TOPIC))
    assert apply_followup_op(table, first) == "opened"
    assert apply_followup_op(table, replayed) == "duplicate"
    assert table["f1"]["due_by"] == "2026-11-25T20:00:00+00:00" and table["f1"]["seq"] == 1
    (claim,) = ops((outcome("f1", "claimed"), OUT_TOPIC))
    apply_followup_op(table, claim)
    assert apply_followup_op(table, replayed) == "duplicate"
    assert table["f1"]["due_by"] == "2026-11-25T20:00:00+00:00"
    # still breached by the first deadline, not the replayed one
    assert scan_followups(table.items(), datetime(2026, 11, 26, tzinfo=UTC)) == (1, ["f1"])


def test_outcome_before_followup_keeps_it_closed() -> None:
    table: dict = {}  # type: ignore[type-arg]
    o = ops((outcome("f1", "closed"), OUT_TOPIC), (followup("f1"), FU_TOPIC))
    assert [apply_followup_op(table, op) for op in o] == ["closed_unknown", "already_closed"]
    assert scan_followups(table.items(), datetime(2030, 1, 1, tzinfo=UTC)) == (0, [])


def test_breach_is_found_and_counted_once() -> None:
    table: dict = {}  # type: ignore[type-arg]
    for op in ops((followup("f1", "2026-11-25T20:00:00Z"), FU_TOPIC),
                  (followup("f2", "2026-11-26T20:00:00Z"), FU_TOPIC)):
        apply_followup_op(table, op)
    now = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    assert scan_followups(table.items(), now) == (2, ["f1"])
    breach = json.loads(breach_op("f1"))
    assert apply_followup_op(table, breach) == "breached"
    assert apply_followup_op(table, breach) == "ignored"
    assert scan_followups(table.items(), now) == (2, [])
    # a duplicate FollowUp (replay) does not reset the breach flag
    assert apply_followup_op(table, ops((followup("f1"), FU_TOPIC))[0]) == "duplicate"
    assert table["f1"]["breached"] is True


def console_outcome(fid: str, kind: str, *, action: str, version: int | None,
                    agent: str = "ana", note: str | None = None) -> dict:  # type: ignore[type-arg]
    return {"op": "outcome", "id": fid, "outcome": kind, "at": "2026-11-25T19:00:00Z",
            "agent": agent, "note": note, "action_id": action, "expected_version": version}


def opened(table: dict) -> None:  # type: ignore[type-arg]
    full = json.dumps({
        "id": "f1", "feedback_id": "sms:1", "customer_id": "C1", "brand": "acme",
        "priority": "P1", "due_by": "2026-11-25T20:00:00Z", "created_at": "2026-11-25T18:00:00Z",
        "reasons": ["angry"], "summary": "s", "suggested_reply": "I can hear how angry you are",
        "feedback": {"channel": "sms", "text": "charged twice [PHONE]", "language": "en",
                     "received_at": "2026-11-25T18:00:00Z",
                     "sentiment": {"label": "negative", "score": -0.9},
                     "emotion": {"label": "anger", "scores": {}},
                     "urgency": {"level": "critical", "score": 0.9, "reasons": ["angry"]},
                     "topics": [{"name": "billing", "confidence": 0.9, "evidence": "charged"}]},
    }).encode()
    op = json.loads(route(full, FU_TOPIC)[0].value)
    assert apply_followup_op(table, op) == "opened"


def test_console_actions_are_versioned_and_idempotent() -> None:
    table: dict = {}  # type: ignore[type-arg]
    opened(table)
    claim = console_outcome("f1", "claimed", action="a1", version=1)
    assert apply_followup_op(table, claim) == "claimed"
    assert (table["f1"]["state"], table["f1"]["assignee"], table["f1"]["version"]) == (
        "claimed", "ana", 2)
    assert apply_followup_op(table, claim) == "duplicate"  # double submit: nothing changes
    assert table["f1"]["version"] == 2
    # a second operator who still saw version 1 loses, and nothing changes
    rival = console_outcome("f1", "claimed", action="b1", version=1, agent="ben")
    assert apply_followup_op(table, rival) == "conflict"
    assert table["f1"]["assignee"] == "ana" and len(table["f1"]["history"]) == 1
    done = console_outcome("f1", "resolved", action="a2", version=2, note="refunded")
    assert apply_followup_op(table, done) == "closed"
    assert table["f1"]["state"] == "closed" and table["f1"]["version"] == 3
    assert [h["action_id"] for h in table["f1"]["history"]] == ["a1", "a2"]
    late = console_outcome("f1", "contacted", action="b2", version=3, agent="ben")
    assert apply_followup_op(table, late) == "conflict"  # closed cases take no more actions


def test_breach_changes_the_document_but_not_the_operators_version() -> None:
    table: dict = {}  # type: ignore[type-arg]
    opened(table)
    assert apply_followup_op(table, json.loads(breach_op("f1"))) == "breached"
    assert (table["f1"]["version"], table["f1"]["seq"]) == (1, 2)
    claim = console_outcome("f1", "claimed", action="a1", version=1)
    assert apply_followup_op(table, claim) == "claimed"


def test_followup_document_carries_the_case_and_its_state() -> None:
    table: dict = {}  # type: ignore[type-arg]
    opened(table)
    apply_followup_op(table, console_outcome("f1", "claimed", action="a1", version=1))
    doc = followup_doc("f1", table["f1"], datetime(2026, 11, 25, 19, 0, tzinfo=UTC))
    assert doc is not None
    assert doc["id"] == "f1" and doc["state"] == "claimed" and doc["assignee"] == "ana"
    assert doc["text"] == "charged twice [PHONE]" and doc["emotion"] == "anger"
    assert doc["topics"] == [{"name": "billing", "evidence": "charged"}]
    assert doc["urgency"]["reasons"] == ["angry"] and doc["channel"] == "sms"
    assert (doc["version"], doc["seq"]) == (2, 2) and doc["history"][0]["agent"] == "ana"
    assert "feedback" not in doc  # only the redacted text and the labels travel
    marker: dict = {}  # type: ignore[type-arg]
    apply_followup_op(marker, {"op": "outcome", "id": "x", "outcome": "resolved", "at": "t"})
    assert followup_doc("x", marker["x"], datetime(2026, 1, 1, tzinfo=UTC)) is None


async def test_intake_counts_dead_letters_by_reason_without_reading_them_back(metrics) -> None:  # type: ignore[no-untyped-def]
    from streams.handlers.followups import FollowupIntake

    intake = FollowupIntake(followups_topic=FU_TOPIC, metrics=metrics)
    out = await intake.handle([event(b"nope", topic=OUT_TOPIC), event(followup("f1"), FU_TOPIC),
                               event(json.dumps({"id": "x"}).encode(), topic=FU_TOPIC)])
    assert [r.topic for r in out.records] == ["deadletter", "state", "deadletter"]
    assert [r.reason for r in out.for_topic("deadletter")] == ["invalid_outcome",
                                                               "invalid_followup"]
    assert metrics.value("voc_deadletter_total", {"reason": "invalid_outcome"}) == 1
    assert metrics.value("voc_deadletter_total", {"reason": "invalid_followup"}) == 1


def test_sla_sends_one_breach_per_follow_up_until_it_comes_back(metrics) -> None:  # type: ignore[no-untyped-def]
    from streams.handlers.followups import FollowupSla

    sla = FollowupSla({}, metrics)
    (op,) = ops((followup("f1", "2026-11-25T20:00:00Z"), FU_TOPIC))
    assert sla.apply(json.dumps(op).encode()) == "opened"
    assert sla.apply(b"not json") is None
    later = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    assert sla.due_breaches(later) == ["f1"]
    assert sla.due_breaches(later) == []  # in flight: not sent twice
    assert metrics.value("voc_followups_open") == 1
    assert sla.apply(breach_op("f1")) == "breached"
    assert sla.due_breaches(later) == []  # counted once, remembered in the table
    assert metrics.value("voc_followup_sla_breaches_total") == 1
