"""Scaling out under load: a second worker joins the group in the middle of a replay.

The first worker's partitions are revoked while its batches are in flight and half of
them move to the newcomer, which starts from the committed offsets. Nothing may be lost
(``check_delivery``: every valid message indexed exactly once, every rant followed up,
every bad payload dead-lettered), and both workers must go on working.
"""

from __future__ import annotations

import os
import time

from tests.reliability.harness import (
    Scenario,
    check_delivery,
    messages_in,
    record_figures,
    wait_until,
)
from tests.reliability.messages import make_messages

MESSAGES = max(1000, int(os.environ.get("VOC_RELIABILITY_MESSAGES", "10000")) // 4)
RATE = float(os.environ.get("VOC_RELIABILITY_RATE", "150")) / 2


def test_second_worker_joins_mid_replay_nothing_lost(scenario: Scenario) -> None:
    messages = make_messages(MESSAGES, scenario.run, seed=13)
    valid = sum(1 for m in messages if m.feedback_id)
    one_thread = {"VOC_ENRICH__MODEL__THREADS": "1", "VOC_ENRICH__MODEL__PARALLEL": "1"}
    first = scenario.add_worker(one_thread).start()
    first.wait_healthy()

    replay, state = scenario.produce_in_background(messages, RATE)
    wait_until(lambda: scenario.index_count() >= 50, 240, 0.5,
               what="the first worker indexing")
    sent_at_join = state["sent"]
    assert sent_at_join < len(messages), "the replay ended before the second worker started"
    second = scenario.add_worker(one_thread).start()
    joined_at = time.monotonic()
    second.wait_healthy()
    wait_until(lambda: messages_in(second) > 0, 240, 0.5, what="the second worker consuming")
    took_over_s = time.monotonic() - joined_at

    replay.join(timeout=300)
    assert state["error"] is None, f"replay failed: {state['error']!r}"
    scenario.wait_for_index(valid, timeout_s=300, messages=messages)
    settled_s = time.monotonic() - joined_at

    assert first.alive and second.alive, "a worker died while the group rebalanced"
    in_first, in_second = messages_in(first), messages_in(second)
    assert in_first > 0 and in_second > 0, "both workers must have read their share"
    figures = check_delivery(scenario, messages)
    record_figures("second_worker_joins_mid_replay", {
        **figures, "first_worker_messages_in": in_first,
        "second_worker_messages_in": in_second, "second_consuming_after_s": round(took_over_s, 1),
        "all_indexed_after_join_s": round(settled_s, 1),
        "sent_when_second_started": sent_at_join, "rate_offered": RATE})
