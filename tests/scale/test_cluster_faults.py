"""Faults on a multi-node cluster, mid-stream: three workers on 12 partitions replicated
three times (``min.insync.replicas=2``), the index held twice on two search nodes.

* the broker leading the inbound partition 0 is killed with SIGKILL, then restarted;
* one search node is killed with SIGKILL, then restarted;
* the workers go 3 -> 1 -> 3 (graceful stops, then two new workers).

Each delivers a known set of messages and checks, from the outside, that every valid
message is indexed exactly once (``check_delivery``), that the producer (acks=all) never
lost a send, and that the cluster heals. Recovery times go to bench/results/scale.json.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import httpx

from tests.reliability.harness import (
    Scenario,
    check_delivery,
    messages_in,
    wait_until,
)
from tests.reliability.messages import Message, make_messages
from tests.scale.checks import (
    contract_topics,
    record,
    start_workers,
    wait_group,
)
from tests.scale.cluster import REPLICATION, Cluster

MESSAGES = int(os.environ.get("VOC_SCALE_MESSAGES", "1500"))
RATE = float(os.environ.get("VOC_SCALE_RATE", "30"))
#: how long a killed node stays down before it is started again
DOWN_S = float(os.environ.get("VOC_SCALE_DOWN_S", "20"))


#: sent (and indexed) before the timed stream: the workers create their indices on the
#: first documents, which on a loaded machine can take longer than the whole stream
WARM_UP = 40


def _stream(sc: Scenario, messages: list[Message]
            ) -> tuple[threading.Thread, dict[str, Any], int]:
    """Send the first messages and wait until they are indexed, then replay the rest at
    ``RATE`` in the background and return once a tenth of the valid ones is indexed (with
    that count): the fault then hits a busy pipeline in the middle of the stream."""
    head, tail = messages[:WARM_UP], messages[WARM_UP:]
    sc.produce(head)
    sc.wait_for_index(sum(1 for m in head if m.feedback_id), timeout_s=300, messages=head)
    replay, state = sc.produce_in_background(tail, RATE)
    tenth = sum(1 for m in messages if m.feedback_id) // 10

    def indexed() -> int:
        n = sc.index_count()
        return n if n >= tenth else 0

    return replay, state, int(wait_until(indexed, 300, 0.5, what="a tenth indexed"))


def _mid_stream(state: dict[str, Any], messages: list[Message]) -> int:
    """How many were sent when the fault hit; the replay must still be going."""
    sent = WARM_UP + int(state["sent"])
    assert sent < len(messages), "the replay ended before the fault: lower the rate"
    return sent


def test_partition_leader_broker_killed_mid_stream(
        cluster: Cluster, scale_scenario: Scenario) -> None:
    sc = scale_scenario
    messages = make_messages(MESSAGES, sc.run, seed=41)
    valid = sum(1 for m in messages if m.feedback_id)
    workers = start_workers(sc, 3)
    topics = contract_topics(sc)
    replay, state, indexed_before = _stream(sc, messages)

    inbound0 = next(p for p in cluster.partitions([sc.topic("sms_inbound")])
                    if p["partition"] == 0)
    victim = cluster.broker_of(inbound0["leader"])
    led = sum(1 for p in cluster.partitions(topics) if p["leader"] == victim.node_id)
    killed_at = cluster.kill9(victim)
    sent_at_kill = _mid_stream(state, messages)

    # every partition it led gets a new leader from the in-sync replicas
    wait_until(lambda: all(p["leader"] not in (-1, victim.node_id)
                           for p in cluster.partitions(topics)), 120, 0.2,
               what="new leaders for the dead broker's partitions")
    leaders_moved_s = time.monotonic() - killed_at
    time.sleep(max(0.0, DOWN_S - (time.monotonic() - killed_at)))
    assert all(w.alive for w in workers), "a worker died when a broker was killed"

    restart_healthy_s = cluster.restart(victim)
    wait_until(lambda: all(len(p["isr"]) == REPLICATION for p in cluster.partitions(topics)),
               240, 1.0, what="every replica back in sync")
    isr_full_s = time.monotonic() - killed_at

    replay.join(timeout=600)
    assert state["error"] is None, f"replay failed (acks=all, min ISR 2): {state['error']!r}"
    sc.wait_for_index(valid, timeout_s=420, messages=messages)
    recovery_s = time.monotonic() - killed_at
    assert all(w.alive for w in workers), "a worker died after the broker came back"

    figures = check_delivery(sc, messages)
    record("leader_broker_kill9", {
        **figures, "workers": 3, "partitions": 12, "replication": REPLICATION,
        "killed_broker": victim.node_id, "partitions_it_led": led,
        "killed_after_sent": sent_at_kill, "indexed_before_kill": indexed_before,
        "leaders_moved_s": round(leaders_moved_s, 1), "down_s": DOWN_S,
        "restart_healthy_s": round(restart_healthy_s, 1), "isr_full_after_kill_s":
        round(isr_full_s, 1), "recovery_s": round(recovery_s, 1), "rate_offered": RATE})


def _shard_copies(cluster: Cluster, node_name: str) -> dict[str, int]:
    """How many primary and replica shard copies the named node holds."""
    base = cluster.settings.search_url.rstrip("/")
    rows = httpx.get(f"{base}/_cat/shards", params={"format": "json"}, timeout=10.0).json()
    mine = [r for r in rows if r.get("node") == node_name]
    return {"primaries": sum(1 for r in mine if r["prirep"] == "p"),
            "replicas": sum(1 for r in mine if r["prirep"] == "r")}


def test_search_node_killed_mid_stream(cluster: Cluster, scale_scenario: Scenario) -> None:
    sc = scale_scenario
    messages = make_messages(MESSAGES, sc.run, seed=43)
    valid = sum(1 for m in messages if m.feedback_id)
    workers = start_workers(sc, 3)
    replay, state, indexed_before = _stream(sc, messages)
    wait_until(lambda: cluster.search_health().get("status") == "green", 120, 0.5,
               what="every shard copied to both search nodes")

    # node 2 (data only; node 1 is the cluster manager and the workers' address)
    victim = cluster.search_nodes[1]
    copies = _shard_copies(cluster, victim.name)
    killed_at = cluster.kill9(victim)
    sent_at_kill = _mid_stream(state, messages)
    wait_until(lambda: cluster.search_health().get("number_of_nodes") == 1, 120, 0.5,
               what="the cluster noticing the dead node")
    noticed_s = time.monotonic() - killed_at
    # the surviving copies take over: no shard of our indices is without a primary
    wait_until(lambda: cluster.search_health().get("status") in ("yellow", "green"), 120, 0.5,
               what="the cluster yellow (every primary active)")
    primaries_active_s = time.monotonic() - killed_at
    grew_from = sc.index_count()
    wait_until(lambda: sc.index_count() > grew_from, 180, 0.5,
               what="indexing going on with one search node")
    indexing_again_s = time.monotonic() - killed_at
    time.sleep(max(0.0, DOWN_S - (time.monotonic() - killed_at)))

    restart_healthy_s = cluster.restart(victim)
    wait_until(lambda: cluster.search_health().get("status") == "green", 240, 1.0,
               what="the cluster green again (replicas recovered)")
    green_after_kill_s = time.monotonic() - killed_at

    replay.join(timeout=600)
    assert state["error"] is None, f"replay failed: {state['error']!r}"
    sc.wait_for_index(valid, timeout_s=420, messages=messages)
    recovery_s = time.monotonic() - killed_at
    assert all(w.alive for w in workers), "a worker died while a search node was down"

    figures = check_delivery(sc, messages)
    record("search_node_kill9", {
        **figures, "workers": 3, "search_nodes": 2, "replicas": 1,
        "killed_node": victim.name, "its_primaries": copies["primaries"],
        "its_replicas": copies["replicas"], "killed_after_sent": sent_at_kill,
        "indexed_before_kill": indexed_before,
        "node_left_noticed_s": round(noticed_s, 1),
        "primaries_active_s": round(primaries_active_s, 1),
        "indexing_again_s": round(indexing_again_s, 1), "down_s": DOWN_S,
        "restart_healthy_s": round(restart_healthy_s, 1),
        "green_after_kill_s": round(green_after_kill_s, 1), "recovery_s": round(recovery_s, 1),
        "rate_offered": RATE})


def test_workers_scale_3_to_1_to_3_mid_stream(
        cluster: Cluster, scale_scenario: Scenario) -> None:
    sc = scale_scenario
    messages = make_messages(MESSAGES, sc.run, seed=47)
    valid = sum(1 for m in messages if m.feedback_id)
    first = start_workers(sc, 3)
    wait_group(sc, 3, 120)
    replay, state, indexed_before = _stream(sc, messages)

    # --- scale in: two workers stop the way an orchestrator stops them (SIGTERM)
    survivor, leaving = first[0], first[1:]
    scale_in_at = time.monotonic()
    sent_at_scale_in = _mid_stream(state, messages)
    for w in leaving:
        w.stop()
    wait_group(sc, 1, 180)
    one_member_s = time.monotonic() - scale_in_at
    grew_from = sc.index_count()
    wait_until(lambda: sc.index_count() > grew_from + 50, 240, 0.5,
               what="the single worker carrying all 12 partitions")
    single_indexing_s = time.monotonic() - scale_in_at

    # --- scale out again: two new workers join while messages keep coming
    _mid_stream(state, messages)  # the workers come back while messages still arrive
    scale_out_at = time.monotonic()
    joined = start_workers(sc, 2)
    wait_group(sc, 3, 180)
    three_members_s = time.monotonic() - scale_out_at
    wait_until(lambda: all(messages_in(w) > 0 for w in joined), 240, 0.5,
               what="both new workers consuming")
    new_consuming_s = time.monotonic() - scale_out_at

    replay.join(timeout=600)
    assert state["error"] is None, f"replay failed: {state['error']!r}"
    sc.wait_for_index(valid, timeout_s=420, messages=messages)
    recovery_s = time.monotonic() - scale_in_at
    assert survivor.alive and all(w.alive for w in joined), "a worker died while scaling"

    figures = check_delivery(sc, messages)
    record("workers_3_1_3", {
        **figures, "partitions": 12, "sent_at_scale_in": sent_at_scale_in,
        "indexed_before_scale_in": indexed_before,
        "group_of_one_s": round(one_member_s, 1),
        "single_worker_indexing_s": round(single_indexing_s, 1),
        "group_of_three_again_s": round(three_members_s, 1),
        "new_workers_consuming_s": round(new_consuming_s, 1),
        "survivor_messages_in": messages_in(survivor),
        "new_workers_messages_in": [messages_in(w) for w in joined],
        "all_indexed_after_scale_in_s": round(recovery_s, 1), "rate_offered": RATE})
