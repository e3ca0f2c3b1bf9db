"""Follow-up SLA state: open, outcomes, breaches counted once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from streams.handlers.followups import (
    apply_followup_op,
    breach_op,
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
    assert table == {}


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
