"""Worker crashes: kill -9 in the middle of a replay, and one of two workers in a group.

What must hold afterwards (``check_delivery``): every valid message in the index exactly
once by id, every rant in ``voc.followups`` at least once, every bad payload dead-lettered.
Kafka redelivers what the dead worker had not committed; the index is idempotent because
the document ``_id`` is the feedback id.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.reliability.harness import (
    Scenario,
    check_delivery,
    messages_in,
    record_figures,
    wait_until,
)
from tests.reliability.messages import make_messages

#: Messages in the kill -9 test (the issue asks for 10,000; lower it locally to iterate).
KILL_MESSAGES = int(os.environ.get("VOC_RELIABILITY_MESSAGES", "10000"))
GROUP_MESSAGES = max(1000, KILL_MESSAGES // 4)
#: Offered rate, so the replay is still running when the worker dies.
RATE = float(os.environ.get("VOC_RELIABILITY_RATE", "150"))


@pytest.mark.timeout(600)
def test_kill9_mid_replay_every_message_indexed_exactly_once(scenario: Scenario) -> None:
    messages = make_messages(KILL_MESSAGES, scenario.run)
    valid = sum(1 for m in messages if m.feedback_id)
    worker = scenario.add_worker().start()
    worker.wait_healthy()

    replay, state = scenario.produce_in_background(messages, RATE)
    # kill once a tenth of the valid messages are indexed: mid-replay, mid-batch
    wait_until(lambda: scenario.index_count() >= valid // 10, 240, 0.5,
               what="a tenth of the messages indexed")
    indexed_at_kill, sent_at_kill = scenario.index_count(), state["sent"]
    worker.kill9()
    killed_at = time.monotonic()
    assert replay.is_alive() and sent_at_kill < len(messages), "the replay ended before the kill"

    restarted = scenario.restart_worker(worker)
    restarted.wait_healthy()
    healthy_after_s = time.monotonic() - killed_at
    replay.join(timeout=300)
    assert state["error"] is None, f"replay failed: {state['error']!r}"
    assert not replay.is_alive(), "replay did not finish"
    scenario.wait_for_index(valid, timeout_s=300, messages=messages)
    recovery_s = time.monotonic() - killed_at

    assert restarted.alive, "restarted worker died"
    figures = check_delivery(scenario, messages)
    record_figures("kill9_mid_replay", {
        **figures, "killed_after_sent": sent_at_kill, "indexed_at_kill": indexed_at_kill,
        "restart_healthy_s": round(healthy_after_s, 1),
        "recovery_s": round(recovery_s, 1), "rate_offered": RATE})


def test_one_of_two_workers_killed_partitions_move_nothing_lost(scenario: Scenario) -> None:
    messages = make_messages(GROUP_MESSAGES, scenario.run, seed=11)
    valid = sum(1 for m in messages if m.feedback_id)
    # two workers share two cores: one encoder thread each
    one_thread = {"VOC_ENRICH__MODEL__THREADS": "1", "VOC_ENRICH__MODEL__PARALLEL": "1"}
    a = scenario.add_worker(one_thread).start()
    b = scenario.add_worker(one_thread).start()
    a.wait_healthy()
    b.wait_healthy()

    replay, state = scenario.produce_in_background(messages, RATE / 2)
    # both members must be working before the kill, or nothing moves
    wait_until(lambda: min(messages_in(a), messages_in(b)) > 0, 240, 0.5,
               what="both workers consuming")
    in_b_before = messages_in(b)
    a.kill9()
    killed_at = time.monotonic()
    replay.join(timeout=300)
    assert state["error"] is None, f"replay failed: {state['error']!r}"
    scenario.wait_for_index(valid, timeout_s=300, messages=messages)
    recovery_s = time.monotonic() - killed_at

    assert b.alive, "the surviving worker died"
    in_b_after = messages_in(b)
    assert in_b_after > in_b_before, "the survivor took over nothing"
    figures = check_delivery(scenario, messages)
    record_figures("one_of_two_workers_killed", {
        **figures, "survivor_messages_in_before_kill": in_b_before,
        "survivor_messages_in_after": in_b_after, "recovery_s": round(recovery_s, 1),
        "rate_offered": RATE / 2})

