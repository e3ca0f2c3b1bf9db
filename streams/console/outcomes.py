"""Follow-up actions as pure decisions: validate the form, decide before publishing, and
read the worker's verdict from the follow-up document afterwards.

No I/O here, so every branch of the contract (duplicate, closed, claimed by someone else,
stale version, applied, lost race) is unit-tested without Kafka or a search engine. The
worker's follow-up state agent is the single writer; the console only predicts obvious
conflicts (to publish nothing) and then reports what the worker actually did.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# what an operator can do from the console, in button order
ACTIONS: tuple[str, ...] = ("claimed", "contacted", "no_answer", "resolved")
LABELS = {"claimed": "Claim", "contacted": "Contacted", "no_answer": "No answer",
          "resolved": "Resolve"}
PAST = {"claimed": "claimed", "contacted": "contacted", "no_answer": "marked no answer",
        "resolved": "resolved", "escalated": "escalated", "closed": "closed"}
SCHEMA_VERSION = 1
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class FormError(ValueError):
    """A forged or malformed action form: 400, nothing published."""


@dataclass(frozen=True)
class ActionRequest:
    outcome: str
    action_id: str
    expected_version: int
    note: str | None
    reply: str | None


def new_action_id() -> str:
    """The idempotency key a form carries (uuid4 hex): a double submit sends it twice."""
    return uuid.uuid4().hex


def parse_action(form: Mapping[str, Any], note_max_chars: int) -> ActionRequest:
    """Validate an action form strictly; any doubt is a FormError with a clear message."""
    outcome = form.get("outcome")
    if not isinstance(outcome, str) or outcome not in ACTIONS:
        raise FormError(f"unknown action {str(outcome)[:40]!r}: expected one of "
                        f"{', '.join(ACTIONS)}")
    action_id = form.get("action_id")
    if not isinstance(action_id, str) or not _HEX32.match(action_id):
        raise FormError("action_id must be the 32-character hex id the form was rendered with")
    raw_version = form.get("expected_version")
    if not isinstance(raw_version, str) or not re.fullmatch(r"[0-9]{1,9}", raw_version.strip()):
        raise FormError("expected_version must be a whole number (the version you saw)")
    version = int(raw_version)
    if version < 1:
        raise FormError("expected_version must be 1 or more")
    note = _text(form, "note", note_max_chars)
    reply = _text(form, "reply", note_max_chars)
    if outcome == "resolved" and not note:
        raise FormError("a resolution needs a note: what was done for the customer")
    return ActionRequest(outcome, action_id, version, note, reply)


def _text(form: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormError(f"{name} must be text")
    value = value.replace("\r\n", "\n").strip()
    if len(value) > limit:
        raise FormError(f"{name} is {len(value)} characters; the limit is {limit}")
    if "\x00" in value:
        raise FormError(f"{name} contains a NUL character")
    return value or None


def outcome_note(req: ActionRequest) -> str | None:
    """The note stored with the outcome; a contact or resolution also records the reply
    the operator sent (their edit of the suggested reply)."""
    if req.outcome in ("contacted", "resolved") and req.reply:
        return f"{req.note}\n\nReply sent:\n{req.reply}" if req.note else \
            f"Reply sent:\n{req.reply}"
    return req.note


def build_outcome(followup_id: str, req: ActionRequest, agent: str, at: str) -> dict[str, Any]:
    """The FollowUpOutcome record for ``voc.followups.outcomes`` (key = followup id)."""
    return {"schema_version": SCHEMA_VERSION, "followup_id": followup_id,
            "outcome": req.outcome, "at": at, "agent": agent, "note": outcome_note(req),
            "action_id": req.action_id, "expected_version": req.expected_version}


Kind = Literal["publish", "done", "conflict", "noop"]


@dataclass(frozen=True)
class Decision:
    """``publish``: send it; ``done``: already applied (a double submit); ``conflict``:
    the worker would refuse it, send nothing; ``noop``: nothing to do."""

    kind: Kind
    message: str = ""


def _history(doc: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    h = doc.get("history") or []
    return h if isinstance(h, list) else []


def _describe(entry: Mapping[str, Any]) -> str:
    who = entry.get("agent") or "someone"
    what = PAST.get(str(entry.get("outcome")), str(entry.get("outcome")))
    return f"{who} already {what} at {entry.get('at', '?')}"


def precheck(doc: Mapping[str, Any], req: ActionRequest, actor: str, role: str) -> Decision:
    """Before publishing: what the current document already tells us."""
    history = _history(doc)
    if any(h.get("action_id") == req.action_id for h in history):
        return Decision("done", "already applied (this form was submitted before)")
    if doc.get("state") == "closed":
        last = history[-1] if history else None
        return Decision("conflict", "conflict: already closed" + (
            f" ({_describe(last)})" if last else ""))
    current = doc.get("version")
    if isinstance(current, int) and current != req.expected_version:
        newer = [h for h in history if h.get("action_id") != req.action_id]
        detail = _describe(newer[-1]) if newer else f"it is now at version {current}"
        return Decision("conflict", f"conflict: {detail}; reload to see the current state")
    assignee = doc.get("assignee")
    if doc.get("state") == "claimed" and assignee and assignee != actor and role != "admin":
        return Decision("conflict", f"conflict: claimed by {assignee}")
    if req.outcome == "claimed" and doc.get("state") == "claimed" and assignee == actor:
        return Decision("noop", "you already hold this follow-up")
    return Decision("publish")


Verdict = Literal["applied", "conflict", "pending"]


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    message: str


def verdict(doc: Mapping[str, Any] | None, action_id: str, expected_version: int) -> Result | None:
    """After publishing: the worker's answer read from the follow-up document, or None while
    it has not moved past ``expected_version`` (keep polling)."""
    if doc is None:
        return None
    history = _history(doc)
    mine = next((h for h in history if h.get("action_id") == action_id), None)
    if mine is not None:
        return Result("applied", f"{PAST.get(str(mine.get('outcome')), 'done')}: "
                                 f"now {doc.get('state')}, version {doc.get('version')}")
    version = doc.get("version")
    if not isinstance(version, int) or version <= expected_version:
        return None
    # someone else's outcome won the race: the one applied to the version we saw. The
    # worker keeps only the latest entries, the last one taking version-1 to version.
    j = expected_version - version + len(history)
    winner = history[j] if 0 <= j < len(history) else (history[-1] if history else None)
    return Result("conflict", "conflict: " + (_describe(winner) if winner
                                              else f"changed to version {version}"))


def pending_result() -> Result:
    return Result("pending", "sent to the worker, not confirmed yet: the queue shows it once "
                             "applied (reload in a few seconds)")


def timed_out_doc(doc: Mapping[str, Any] | None, action_id: str,
                  expected_version: int) -> Result:
    """The final answer when polling ran out: a closed doc that never took our action means
    a conflict (the worker rejects outcomes on closed follow-ups without a version bump)."""
    found = verdict(doc, action_id, expected_version)
    if found is not None:
        return found
    if doc is not None and doc.get("state") == "closed":
        history = _history(doc)
        return Result("conflict", "conflict: already closed" + (
            f" ({_describe(history[-1])})" if history else ""))
    return pending_result()
