"""The follow-up action decisions, purely: form validation, pre-publish checks, verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from streams.console.outcomes import (
    ActionRequest,
    FormError,
    build_outcome,
    new_action_id,
    parse_action,
    precheck,
    timed_out_doc,
    verdict,
)

AID = "a" * 32


def form(**kw: str) -> dict[str, str]:
    base = {"outcome": "claimed", "action_id": AID, "expected_version": "1"}
    base.update(kw)
    return base


def doc(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "followup:f1", "state": "open", "assignee": None,
                            "version": 1, "history": []}
    base.update(kw)
    return base


def entry(action_id: str, outcome: str, agent: str, at: str = "2026-12-07T10:00:00Z") -> dict:
    return {"action_id": action_id, "outcome": outcome, "agent": agent, "at": at, "note": None}


# --- the form ---------------------------------------------------------------------------------


def test_valid_forms_parse() -> None:
    req = parse_action(form(), 2000)
    assert req == ActionRequest("claimed", AID, 1, None, None)
    req = parse_action(form(outcome="resolved", note="  called back <b>x</b>  ",
                            expected_version="7", reply="Hi\r\nsorry"), 2000)
    assert req.note == "called back <b>x</b>"  # markup kept as text, escaped on output
    assert req.reply == "Hi\nsorry" and req.expected_version == 7


@pytest.mark.parametrize("bad,message", [
    ({"outcome": "closed"}, "unknown action"),
    ({"outcome": "escalated"}, "unknown action"),
    ({"outcome": ""}, "unknown action"),
    ({"action_id": "not-hex"}, "action_id"),
    ({"action_id": "A" * 32}, "action_id"),
    ({"action_id": "a" * 33}, "action_id"),
    ({"expected_version": "1.5"}, "whole number"),
    ({"expected_version": "-1"}, "whole number"),
    ({"expected_version": "0"}, "1 or more"),
    ({"expected_version": "1e3"}, "whole number"),
    ({"expected_version": "9" * 12}, "whole number"),
    ({"outcome": "resolved"}, "needs a note"),
    ({"outcome": "resolved", "note": "   "}, "needs a note"),
    ({"note": "x" * 2001}, "limit is 2000"),
    ({"reply": "x" * 2001}, "limit is 2000"),
    ({"note": "a\x00b"}, "NUL"),
])
def test_forged_fields_are_refused(bad: dict[str, str], message: str) -> None:
    with pytest.raises(FormError, match=message):
        parse_action(form(**bad), 2000)


def test_missing_fields_are_refused() -> None:
    for name in ("outcome", "action_id", "expected_version"):
        f = form()
        del f[name]
        with pytest.raises(FormError):
            parse_action(f, 2000)


def test_note_exactly_at_the_limit_is_fine() -> None:
    assert parse_action(form(note="x" * 50), 50).note == "x" * 50


def test_outcome_record_matches_the_contract() -> None:
    req = parse_action(form(outcome="resolved", note="refunded", reply="Sorry!",
                            expected_version="3"), 2000)
    rec = build_outcome("followup:f1", req, "bob", "2026-12-07T10:00:00+00:00")
    assert rec == {"schema_version": 1, "followup_id": "followup:f1", "outcome": "resolved",
                   "at": "2026-12-07T10:00:00+00:00", "agent": "bob",
                   "note": "refunded\n\nReply sent:\nSorry!", "action_id": AID,
                   "expected_version": 3}
    claim = build_outcome("followup:f1", parse_action(form(reply="ignored"), 2000), "bob", "t")
    assert claim["note"] is None


def test_action_ids_are_unique_hex() -> None:
    ids = {new_action_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


# --- before publishing -------------------------------------------------------------------------


def req(outcome: str = "claimed", version: int = 1, action_id: str = AID) -> ActionRequest:
    return ActionRequest(outcome, action_id, version, "n" if outcome == "resolved" else None,
                         None)


def test_open_followup_publishes() -> None:
    assert precheck(doc(), req(), "bob", "agent").kind == "publish"


def test_double_submit_is_done_not_republished() -> None:
    d = doc(state="claimed", assignee="bob", version=2, history=[entry(AID, "claimed", "bob")])
    out = precheck(d, req(), "bob", "agent")
    assert out.kind == "done"


def test_closed_is_a_conflict() -> None:
    d = doc(state="closed", version=2, history=[entry("b" * 32, "resolved", "carol")])
    out = precheck(d, req("contacted", 2), "bob", "agent")
    assert out.kind == "conflict" and "already closed" in out.message and "carol" in out.message


def test_claimed_by_someone_else_is_a_conflict_unless_admin() -> None:
    d = doc(state="claimed", assignee="carol", version=2,
            history=[entry("b" * 32, "claimed", "carol")])
    out = precheck(d, req("contacted", 2), "bob", "agent")
    assert out.kind == "conflict" and out.message == "conflict: claimed by carol"
    assert precheck(d, req("contacted", 2), "ada", "admin").kind == "publish"


def test_stale_version_is_a_conflict_naming_who_moved_it() -> None:
    d = doc(state="claimed", assignee="carol", version=2,
            history=[entry("b" * 32, "claimed", "carol", "2026-12-07T09:59:00Z")])
    out = precheck(d, req("claimed", 1), "bob", "agent")
    assert out.kind == "conflict"
    assert "carol already claimed at 2026-12-07T09:59:00Z" in out.message


def test_claiming_what_you_hold_is_a_noop() -> None:
    d = doc(state="claimed", assignee="bob", version=2,
            history=[entry("b" * 32, "claimed", "bob")])
    assert precheck(d, req("claimed", 2), "bob", "agent").kind == "noop"
    assert precheck(d, req("contacted", 2), "bob", "agent").kind == "publish"


# --- after publishing ----------------------------------------------------------------------------


def test_verdict_waits_until_the_version_moves() -> None:
    assert verdict(None, AID, 1) is None
    assert verdict(doc(), AID, 1) is None


def test_verdict_applied_when_history_holds_the_action() -> None:
    d = doc(state="closed", version=2, history=[entry(AID, "resolved", "bob")])
    out = verdict(d, AID, 1)
    assert out is not None and out.verdict == "applied" and "resolved" in out.message


def test_verdict_conflict_names_the_winner() -> None:
    d = doc(state="claimed", assignee="carol", version=3, history=[
        entry("c" * 32, "contacted", "dave", "2026-12-07T09:00:00Z"),
        entry("b" * 32, "claimed", "carol", "2026-12-07T10:00:00Z")])
    out = verdict(d, AID, 2)  # we saw version 2: carol's claim (the 2nd entry) beat us
    assert out is not None and out.verdict == "conflict"
    assert out.message == "conflict: carol already claimed at 2026-12-07T10:00:00Z"


def test_timeout_is_pending_or_a_closed_conflict() -> None:
    assert timed_out_doc(doc(), AID, 1).verdict == "pending"
    assert timed_out_doc(None, AID, 1).verdict == "pending"
    closed = doc(state="closed", version=1, history=[])
    assert timed_out_doc(closed, AID, 1).verdict == "conflict"


def test_verdict_finds_the_winner_in_a_truncated_history() -> None:
    # the worker keeps the latest entries only: version 60, 3 entries kept = versions 57..60
    kept = [entry("e" * 32, "contacted", "eve", "t57"), entry("f" * 32, "no_answer", "fay", "t58"),
            entry("g" * 32, "contacted", "gus", "t59")]
    d = doc(state="claimed", version=60, history=kept)
    out = verdict(d, AID, 58)
    assert out is not None and out.message == "conflict: fay already marked no answer at t58"
    out = verdict(d, AID, 3)  # older than anything kept: name the latest
    assert out is not None and "gus" in out.message
