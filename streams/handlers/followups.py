"""Follow-up SLA state: which follow-ups are open, and which missed their due time.

``voc.followups`` is keyed by customer and ``voc.followups.outcomes`` by follow-up
id, so the two cannot feed one partitioned table directly. The intake step
re-keys both onto one internal topic keyed by follow-up id (a manual
``group_by``); the state step owns the ``open-followups`` table (changelogged,
so it survives restarts and moves with its partitions). A timer scans the local
table: it sets the open gauge and, for each open follow-up past ``due_by``, sends
one ``breach`` op through the same topic, so the breach is counted once, by the
owner of that key, and remembered in the table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from schemas.records import FollowUpOutcome
from streams.deadletter import describe_error
from streams.handlers.common import DeadLetters, Outputs, RawEvent, deadletter_record

if TYPE_CHECKING:
    from streams.metrics import Metrics

log = logging.getLogger(__name__)

CLOSING_OUTCOMES = frozenset({"resolved", "closed"})


def _iso(dt: datetime) -> str:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).isoformat()


def route_followup_event(ev: RawEvent, *, followups_topic: str) -> Outputs:
    """Turn a FollowUp or FollowUpOutcome record into one op keyed by follow-up id
    (logical topic ``"state"``), or a dead letter."""
    out = Outputs()
    try:
        data = json.loads(ev.value or b"")
        if not isinstance(data, dict):
            raise ValueError("record is not a JSON object")
        if ev.topic == followups_topic:
            op = {
                "op": "open",
                "id": str(data["id"]),
                "priority": str(data.get("priority", "P3")),
                "due_by": _iso(datetime.fromisoformat(str(data["due_by"]).replace("Z", "+00:00"))),
                "customer_id": data.get("customer_id"),
            }
        else:
            outcome = FollowUpOutcome.model_validate(data)
            op = {
                "op": "outcome",
                "id": outcome.followup_id,
                "outcome": outcome.outcome,
                "at": _iso(outcome.at),
            }
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        reason = "invalid_followup" if ev.topic == followups_topic else "invalid_outcome"
        out.records.append(deadletter_record(ev, reason, describe_error(exc)))
        return out
    out.add("state", op["id"], json.dumps(op).encode("utf-8"))
    return out


def apply_followup_op(table: MutableMapping[str, Any], op: Mapping[str, Any]) -> str:
    """Apply one op to the table of follow-ups; return what happened (for metrics/tests).

    Entries: ``{"state": "open"|"closed", "due_by", "priority", "breached", "last_outcome"}``.
    An outcome may overtake its follow-up (different topics): a closing outcome for an
    unknown id leaves a ``closed`` marker so the late ``open`` does not reopen it.
    """
    fid = str(op.get("id", ""))
    kind = op.get("op")
    entry = table.get(fid)
    if kind == "open":
        if entry is not None:
            return "duplicate" if entry.get("state") == "open" else "already_closed"
        table[fid] = {
            "state": "open",
            "due_by": op["due_by"],
            "priority": op.get("priority", "P3"),
            "breached": False,
            "last_outcome": None,
        }
        return "opened"
    if kind == "outcome":
        outcome = op.get("outcome")
        if outcome in CLOSING_OUTCOMES:
            if entry is not None and entry.get("state") == "open":
                del table[fid]
                return "closed"
            table[fid] = {"state": "closed", "last_outcome": outcome}
            return "closed_unknown"
        if entry is not None and entry.get("state") == "open":
            table[fid] = {**entry, "last_outcome": outcome}
            return "recorded"
        return "ignored"
    if kind == "breach":
        if entry is not None and entry.get("state") == "open" and not entry.get("breached"):
            table[fid] = {**entry, "breached": True}
            return "breached"
        return "ignored"
    return "unknown_op"


def scan_followups(
    items: Iterable[tuple[str, Mapping[str, Any]]], now: datetime
) -> tuple[int, list[str]]:
    """(number open, ids open past due_by and not yet counted as breached)."""
    open_count = 0
    overdue: list[str] = []
    for fid, entry in items:
        if not entry or entry.get("state") != "open":
            continue
        open_count += 1
        if entry.get("breached"):
            continue
        try:
            due = datetime.fromisoformat(str(entry["due_by"]))
        except (KeyError, ValueError):
            continue
        if due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        if due < now:
            overdue.append(fid)
    return open_count, overdue


def breach_op(fid: str) -> bytes:
    """The op the timer sends to mark a follow-up breached (counted by the state agent)."""
    return json.dumps({"op": "breach", "id": fid}).encode("utf-8")


class FollowupIntake:
    """The intake step: a batch of follow-ups and outcomes onto the state topic, or parked."""

    def __init__(self, *, followups_topic: str, metrics: Metrics) -> None:
        """``followups_topic`` is the full name of the FollowUp topic (the rest are outcomes)."""
        self.followups_topic = followups_topic
        self.dead = DeadLetters(metrics)

    async def handle(self, events: Sequence[RawEvent]) -> Outputs:
        out = Outputs()
        for ev in events:
            self.dead.add(out, route_followup_event(ev, followups_topic=self.followups_topic)
                          .records)
        return out


class FollowupSla:
    """The state step: owns the open-follow-ups table, counts breaches, sends each once.

    ``due_breaches`` remembers which breach ops are in flight, so the timer does not send
    a second one before the first comes back through the state topic.
    """

    def __init__(self, table: MutableMapping[str, Any], metrics: Metrics) -> None:
        self.table = table
        self.metrics = metrics
        self._breach_sent: set[str] = set()

    def apply(self, value: bytes) -> str | None:
        """Apply one op from the state topic; what happened, or None for an unreadable op."""
        try:
            op = json.loads(value)
        except ValueError:
            return None
        if not isinstance(op, dict):
            return None
        result = apply_followup_op(self.table, op)
        if result == "breached":
            self.metrics.followup_sla_breaches.inc()
        if op.get("op") == "breach" or result == "closed":
            self._breach_sent.discard(str(op.get("id")))
        return result

    def due_breaches(self, now: datetime) -> list[str]:
        """Set the open gauge; the ids whose breach op should be sent now."""
        open_count, overdue = scan_followups(list(self.table.items()), now)
        self.metrics.followups_open.set(open_count)
        new = [fid for fid in overdue if fid not in self._breach_sent]
        self._breach_sent.update(new)
        return new
