"""Scaling in and out again under load, on 12 partitions: three workers, two of them
stopped with SIGTERM in the middle of a replay, then two new workers started.

The single-broker form of the scale suite's ``workers 3 -> 1 -> 3``, which lost 1 and 4
of 1,463 messages: the survivor takes over two thirds of the partitions with a backlog
queued for its agents, and each rebalance skips what reaches a stream in between. Faust
acks those skipped messages without processing them; ``SafeConsumer`` counted the acks,
held a hole open for five repairs, then let Faust commit over it, and the next rebalance
dropped the queued redelivery. Nothing may be lost (``check_delivery``: every valid
message indexed exactly once, every rant followed up, every bad payload dead-lettered).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings
from tests.reliability.harness import (
    Scenario,
    WorkerProc,
    check_delivery,
    messages_in,
    record_figures,
    scenario_lifetime,
    wait_until,
)
from tests.reliability.messages import make_messages

PARTITIONS = 12
MESSAGES = max(1000, int(os.environ.get("VOC_RELIABILITY_MESSAGES", "10000")) // 6)
RATE = float(os.environ.get("VOC_RELIABILITY_RATE", "150")) / 4
ENV = {"VOC_ENRICH__MODEL__THREADS": "1", "VOC_ENRICH__MODEL__PARALLEL": "1",
       "VOC_TOPICS__PARTITIONS": str(PARTITIONS)}


@pytest.fixture()
def scenario12(stack: Settings, request: pytest.FixtureRequest, tmp_path: Path
               ) -> Iterator[Scenario]:
    """The ``scenario`` fixture with 12-partition topics (the workers get the same)."""
    topics = stack.topics.model_copy(update={"partitions": PARTITIONS})
    with scenario_lifetime(Scenario(test=request.node.name, workdir=tmp_path,
                                    base=stack.model_copy(update={"topics": topics})),
                           request) as sc:
        yield sc


def _start(sc: Scenario, n: int) -> list[WorkerProc]:
    workers = [sc.add_worker(ENV).start() for _ in range(n)]
    for w in workers:
        w.wait_healthy(300)
    return workers


def test_three_workers_to_one_and_back_on_12_partitions_nothing_lost(
        scenario12: Scenario) -> None:
    sc = scenario12
    messages = make_messages(MESSAGES, sc.run, seed=61)
    valid = sum(1 for m in messages if m.feedback_id)
    first = _start(sc, 3)

    replay, state = sc.produce_in_background(messages, RATE)
    wait_until(lambda: sc.index_count() >= valid // 10, 300, 0.5,
               what="a tenth indexed by three workers")
    sent_at_scale_in = state["sent"]
    assert sent_at_scale_in < len(messages), "the replay ended before the scale-in"
    survivor, leaving = first[0], first[1:]
    scale_in_at = time.monotonic()
    for w in leaving:
        w.stop()
    grew_from = sc.index_count()
    wait_until(lambda: sc.index_count() > grew_from + 50, 300, 0.5,
               what="the survivor carrying all 12 partitions")
    single_s = time.monotonic() - scale_in_at

    sent_at_scale_out = state["sent"]
    joined = _start(sc, 2)
    wait_until(lambda: all(messages_in(w) > 0 for w in joined), 300, 0.5,
               what="both new workers consuming")

    replay.join(timeout=600)
    assert state["error"] is None, f"replay failed: {state['error']!r}"
    sc.wait_for_index(valid, timeout_s=420, messages=messages)
    settled_s = time.monotonic() - scale_in_at
    assert survivor.alive and all(w.alive for w in joined), "a worker died while scaling"

    figures = check_delivery(sc, messages)
    record_figures("workers_3_1_3_single_broker", {
        **figures, "partitions": PARTITIONS, "sent_at_scale_in": sent_at_scale_in,
        "sent_at_scale_out": sent_at_scale_out,
        "survivor_indexing_alone_s": round(single_s, 1),
        "survivor_messages_in": messages_in(survivor),
        "new_workers_messages_in": [messages_in(w) for w in joined],
        "all_indexed_after_scale_in_s": round(settled_s, 1), "rate_offered": RATE})
