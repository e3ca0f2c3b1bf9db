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
from streams.deadletter import DeadLetterPolicy, describe_error
from streams.handlers.common import DeadLetters, Outputs, RawEvent, deadletter_record, utf8_safe

if TYPE_CHECKING:
    from streams.metrics import Metrics

log = logging.getLogger(__name__)

CLOSING_OUTCOMES = frozenset({"resolved", "closed"})


def _iso(dt: datetime) -> str:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).isoformat()


def case_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the console's queue shows of a follow-up (``voc-followups``), from the FollowUp
    record: redacted text and the enrichment's "why", never anything unredacted."""
    feedback = data.get("feedback")
    fb: Mapping[str, Any] = feedback if isinstance(feedback, Mapping) else {}
    urgency_value = fb.get("urgency")
    urgency: Mapping[str, Any] = urgency_value if isinstance(urgency_value, Mapping) else {}
    return {
        "feedback_id": data.get("feedback_id"),
        "customer_id": data.get("customer_id"),
        "brand": data.get("brand") or fb.get("brand"),
        "channel": fb.get("channel"),
        "created_at": data.get("created_at"),
        "received_at": fb.get("received_at") or data.get("created_at"),
        "reasons": list(data.get("reasons") or []),
        "summary": data.get("summary") or "",
        "suggested_reply": data.get("suggested_reply") or "",
        "text": fb.get("text") or "",
        "language": fb.get("language"),
        "sentiment": (fb.get("sentiment") or {}).get("label"),
        "emotion": (fb.get("emotion") or {}).get("label"),
        "urgency": {"level": urgency.get("level"), "score": urgency.get("score"),
                    "reasons": list(urgency.get("reasons") or [])},
        "topics": [{"name": t.get("name"), "evidence": t.get("evidence")}
                   for t in fb.get("topics") or [] if isinstance(t, Mapping)],
    }


def route_followup_event(ev: RawEvent, *, followups_topic: str,
                         deadletters: DeadLetterPolicy | None = None) -> Outputs:
    """Turn a FollowUp or FollowUpOutcome record into one op keyed by follow-up id
    (logical topic ``"state"``), or a dead letter."""
    out = Outputs()
    try:
        data = json.loads(ev.value or b"")
        if not isinstance(data, dict):
            raise ValueError("record is not a JSON object")
        op: dict[str, Any]
        if ev.topic == followups_topic:
            op = {
                "op": "open",
                "id": str(data["id"]),
                "priority": str(data.get("priority", "P3")),
                "due_by": _iso(datetime.fromisoformat(str(data["due_by"]).replace("Z", "+00:00"))),
                "customer_id": data.get("customer_id"),
                "case": case_fields(data),
            }
        else:
            outcome = FollowUpOutcome.model_validate(data)
            op = {
                "op": "outcome",
                "id": outcome.followup_id,
                "outcome": outcome.outcome,
                "at": _iso(outcome.at),
                "agent": outcome.agent,
                "note": outcome.note,
                "action_id": outcome.action_id,
                "expected_version": outcome.expected_version,
            }
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        reason = "invalid_followup" if ev.topic == followups_topic else "invalid_outcome"
        out.records.append(deadletter_record(ev, reason, describe_error(exc), deadletters))
        return out
    out.add("state", op["id"], json.dumps(op).encode("utf-8"))
    return out


LIVE_STATES = frozenset({"open", "claimed"})
MAX_HISTORY = 50  # actions kept per case (the audit index has them all)


def _is_live(entry: Mapping[str, Any] | None) -> bool:
    return entry is not None and entry.get("state") in LIVE_STATES


def apply_followup_op(table: MutableMapping[str, Any], op: Mapping[str, Any]) -> str:
    """Apply one op to the table of follow-ups; return what happened (for metrics/tests).

    Live entries: ``{"state": "open"|"claimed", "due_by", "priority", "breached",
    "last_outcome", "assignee", "version", "seq", "history", "case"}``; a closed case stays
    in the table as ``{"state": "closed", ...}`` (an outcome that overtook its follow-up on
    another topic leaves such a marker too), so a redelivered ``open`` never reopens it.

    Outcomes are applied by this one writer per follow-up id, in order, so they can be
    checked: a repeated ``action_id`` is a ``duplicate`` and changes nothing; an
    ``expected_version`` other than the current version is a ``conflict`` (somebody acted
    in between) and changes nothing. Every applied outcome raises ``version`` by one (what
    operators act on); every change of the entry raises ``seq`` (the index document's
    external version, so a breach never makes an operator's view stale).
    """
    fid = str(op.get("id", ""))
    kind = op.get("op")
    entry = table.get(fid)
    if kind == "open":
        if entry is not None:
            return "duplicate" if _is_live(entry) else "already_closed"
        table[fid] = {
            "state": "open",
            "due_by": op["due_by"],
            "priority": op.get("priority", "P3"),
            "breached": False,
            "last_outcome": None,
            "assignee": None,
            "version": 1,
            "seq": 1,
            "history": [],
            "case": dict(op.get("case") or {}),
        }
        return "opened"
    if kind == "outcome":
        return _apply_outcome(table, fid, entry, op)
    if kind == "breach":
        if _is_live(entry) and entry is not None and not entry.get("breached"):
            table[fid] = {**entry, "breached": True, "seq": int(entry.get("seq") or 1) + 1}
            return "breached"
        return "ignored"
    return "unknown_op"


def _apply_outcome(
    table: MutableMapping[str, Any], fid: str, entry: Mapping[str, Any] | None,
    op: Mapping[str, Any],
) -> str:
    outcome = op.get("outcome")
    action_id = op.get("action_id")
    expected = op.get("expected_version")
    if action_id and entry is not None and action_id in {
        h.get("action_id") for h in entry.get("history") or []
    }:
        return "duplicate"
    if not _is_live(entry) or entry is None:
        if expected is not None:  # an operator acted on a case that is gone or closed
            return "conflict"
        if outcome in CLOSING_OUTCOMES and entry is None:
            table[fid] = {"state": "closed", "last_outcome": outcome, "version": 1, "seq": 1,
                          "history": []}
            return "closed_unknown"
        return "ignored"
    version = int(entry.get("version") or 1)
    if expected is not None and int(expected) != version:
        return "conflict"
    step = {"action_id": action_id, "outcome": outcome, "agent": op.get("agent"),
            "at": op.get("at"), "note": op.get("note")}
    history = [*list(entry.get("history") or []), step][-MAX_HISTORY:]
    seq = int(entry.get("seq") or 1) + 1
    updated = {**entry, "last_outcome": outcome, "version": version + 1, "seq": seq,
               "history": history}
    if outcome == "claimed":
        updated["state"] = "claimed"
        updated["assignee"] = op.get("agent")
    elif not updated.get("assignee") and op.get("agent"):
        updated["assignee"] = op.get("agent")
    if outcome in CLOSING_OUTCOMES:
        # the case leaves the queue; its entry stays, closed, with its version and history
        table[fid] = {**updated, "state": "closed"}
        return "closed"
    table[fid] = updated
    return "claimed" if outcome == "claimed" else "recorded"


def followup_doc(fid: str, entry: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """The ``voc-followups`` document for one table entry, or None when the entry carries
    no case (a closed marker for a follow-up this worker never saw opened)."""
    case = entry.get("case")
    if not case:
        return None
    return utf8_safe({
        "id": fid,
        **case,
        "priority": entry.get("priority"),
        "due_by": entry.get("due_by"),
        "state": entry.get("state"),
        "last_outcome": entry.get("last_outcome"),
        "assignee": entry.get("assignee"),
        "breached": bool(entry.get("breached")),
        "version": int(entry.get("version") or 1),
        "seq": int(entry.get("seq") or 1),
        "history": list(entry.get("history") or []),
        "updated_at": _iso(now),
    })


def scan_followups(
    items: Iterable[tuple[str, Mapping[str, Any]]], now: datetime
) -> tuple[int, list[str]]:
    """(number open, ids open past due_by and not yet counted as breached)."""
    open_count = 0
    overdue: list[str] = []
    for fid, entry in items:
        if not _is_live(entry):
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

    def __init__(self, *, followups_topic: str, metrics: Metrics,
                 deadletters: DeadLetterPolicy | None = None) -> None:
        """``followups_topic`` is the full name of the FollowUp topic (the rest are outcomes)."""
        self.followups_topic = followups_topic
        self.dead = DeadLetters(metrics, deadletters)

    async def handle(self, events: Sequence[RawEvent]) -> Outputs:
        out = Outputs()
        for ev in events:
            routed = route_followup_event(ev, followups_topic=self.followups_topic,
                                          deadletters=self.dead.policy)
            self.dead.add(out, routed.records)
        return out


#: what the state step did with an outcome, as the voc_followup_outcomes_total ``result`` label
OUTCOME_RESULT = {"claimed": "applied", "recorded": "applied", "closed": "applied",
                  "closed_unknown": "applied", "duplicate": "duplicate", "conflict": "conflict"}
#: results that changed a case, so its ``voc-followups`` document is rewritten
CASE_CHANGED = frozenset({"opened", "claimed", "recorded", "closed", "breached"})


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
        if op.get("op") == "outcome":
            self.metrics.followup_outcomes.labels(
                outcome=str(op.get("outcome")), result=OUTCOME_RESULT.get(result, "ignored")
            ).inc()
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

    def apply_event(self, ev: RawEvent) -> str | None:
        """Apply one op from the state topic; the follow-up id when it changed a case."""
        result = self.apply(ev.value or b"")
        return (ev.key or b"").decode("utf-8", "replace") if result in CASE_CHANGED else None

    def case_documents(self, changed: Mapping[str, RawEvent], now: datetime
                       ) -> list[tuple[RawEvent, dict[str, Any]]]:
        """The ``voc-followups`` document of each changed case (its latest state), with the
        op that last changed it."""
        out = []
        for fid, ev in changed.items():
            entry = self.table.get(fid)
            doc = followup_doc(fid, entry, now) if entry else None
            if doc is not None:
                out.append((ev, doc))
        return out
