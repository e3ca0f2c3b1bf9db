"""Repeat contacts are counted exactly with several workers: "Nth contact in 7 days".

Every customer writes several times, each time from another sender number (so another
record key, hence another partition and usually another worker), by SMS and by survey,
in rounds a few hours apart. A round is sent only once the previous one is indexed, so the
k-th message of every customer must say "k-th contact in 7 days" (the first says nothing)
whatever worker handled it. The workers go 3 -> 1 -> 3 between rounds, so the count also
has to follow the partitions around a rebalance.

The count lives in a changelogged Faust table keyed by customer, behind a re-key hop
(issue 20; streams/contacts.py, streams/handlers/contacts.py), so it is exact whichever
worker reads a message. A wrong count raises its own exception (``ContactCountMismatch``);
lost or duplicated documents or a dead worker fail the test before that.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.reliability.harness import Scenario, check_delivery
from tests.reliability.messages import CALM, CAUSES, Message
from tests.scale.checks import contact_counts, record, start_workers, wait_group
from tests.scale.cluster import Cluster

CUSTOMERS = 40
ROUNDS = 4
ROUND_GAP = timedelta(hours=6)  # all four rounds within one day: well inside 7 days


class ContactCountMismatch(AssertionError):
    """An indexed message's "Nth contact in 7 days" is not the true N."""


def _round(run: str, rnd: int) -> tuple[list[Message], dict[str, int]]:
    """Round ``rnd`` (1-based): one message per customer; feedback id -> expected N."""
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC) + (rnd - 1) * ROUND_GAP
    msgs: list[Message] = []
    expected: dict[str, int] = {}
    for c in range(CUSTOMERS):
        customer = f"K-{run}-{c}"
        at = (start + timedelta(seconds=c)).isoformat().replace("+00:00", "Z")
        text = CALM[(c + rnd) % len(CALM)].format(cause=CAUSES[(c * 3 + rnd) % len(CAUSES)])
        if rnd == 2 and c % 2 == 0:  # some contacts come as survey comments
            rid = f"R-{run}-{c}-{rnd}"
            rec = {"response_id": rid, "survey_id": "S-scale", "customer_id": customer,
                   "brand": "acme-mobile", "submitted_at": at, "kind": "nps", "score": 6,
                   "comment": text}
            msgs.append(Message("survey", rid.encode(), json.dumps(rec).encode(),
                                f"survey:{rid}"))
        else:
            mid = f"SM-{run}-{c}-{rnd}"
            sender = f"+44770{rnd}{c:06d}"  # another key each round
            rec = {"message_id": mid, "from": sender, "to": "+447700900000", "body": text,
                   "received_at": at, "brand": "acme-mobile", "customer_id": customer}
            msgs.append(Message("sms", sender.encode(), json.dumps(rec).encode(),
                                f"sms:{mid}"))
        expected[msgs[-1].feedback_id or ""] = rnd
    return msgs, expected


def test_repeat_contact_counts_exact_across_workers(
        cluster: Cluster, scale_scenario: Scenario) -> None:
    sc = scale_scenario
    workers = start_workers(sc, 3)
    wait_group(sc, 3, 180)
    sent: list[Message] = []
    expected: dict[str, int] = {}
    for rnd in range(1, ROUNDS + 1):
        if rnd == 3:  # scale in before round 3 ...
            for w in workers[1:]:
                w.stop()
            wait_group(sc, 1, 180)
        if rnd == 4:  # ... and out again before round 4
            start_workers(sc, 2)
            wait_group(sc, 3, 180)
        msgs, exp = _round(sc.run, rnd)
        sc.produce(msgs)
        sent += msgs
        expected |= exp
        sc.wait_for_index(len(expected), timeout_s=300, messages=sent)

    figures = check_delivery(sc, sent)  # exactly once first: that must hold today already
    counts = contact_counts(sc)
    wrong = {fid: (counts.get(fid), n) for fid, n in expected.items() if counts.get(fid) != n}
    record("repeat_contacts_exact", {
        **figures, "customers": CUSTOMERS, "rounds": ROUNDS, "wrong_counts": len(wrong),
        "examples_indexed_vs_true": dict(sorted(wrong.items())[:5])})
    if wrong:
        raise ContactCountMismatch(
            f"{len(wrong)} of {len(expected)} contact counts wrong (indexed, true), e.g. "
            f"{dict(sorted(wrong.items())[:8])}")
