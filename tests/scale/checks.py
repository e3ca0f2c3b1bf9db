"""What the scale tests observe from the outside: the consumer group's members, workers
started together, the repeat-contact cue of indexed documents, and the figures file.

Everything here reads plain Kafka admin and plain OpenSearch HTTP, never the code under
test; the delivery checks themselves are the fault tests' (``harness.check_delivery``).
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from schemas.topics import TOPICS
from tests.reliability.harness import REPO, Scenario, WorkerProc, record_figures, wait_until

RESULTS = REPO / "bench" / "results" / "scale.json"

_NTH_CONTACT = re.compile(r"^(\d+)(?:st|nd|rd|th) contact in 7 days$")


def record(test: str, figures: dict[str, Any]) -> dict[str, Any]:
    """One row of bench/results/scale.json (the fault tests' row format)."""
    return record_figures(test, figures, results=RESULTS)


def contract_topics(sc: Scenario) -> list[str]:
    return [sc.topic(t.logical) for t in TOPICS]


def start_workers(sc: Scenario, n: int) -> list[WorkerProc]:
    """Start ``n`` more workers at once (they load their models side by side) and wait
    until each answers /health."""
    workers = [sc.add_worker().start() for _ in range(n)]
    for w in workers:
        w.wait_healthy(300)
    return workers


def group_state(sc: Scenario) -> tuple[str, int]:
    """(state, member count) of the scenario's consumer group."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=sc.settings.kafka_bootstrap.split(","),
                             request_timeout_ms=10_000)
    try:
        desc = admin.describe_groups([sc.settings.consumer_group])[sc.settings.consumer_group]
        return str(desc["group_state"]), len(desc["members"])
    finally:
        admin.close()


def wait_group(sc: Scenario, members: int, timeout_s: float) -> float:
    """Seconds until the group is Stable with exactly ``members`` members."""
    started = time.monotonic()
    wait_until(lambda: group_state(sc) == ("Stable", members), timeout_s, 0.5,
               what=f"consumer group stable with {members} members")
    return time.monotonic() - started


def contact_counts(sc: Scenario) -> dict[str, int]:
    """Feedback id -> the "Nth contact in 7 days" the index says (1 when no such reason:
    the cue is only given from the 2nd contact on)."""
    base = sc.settings.search_url.rstrip("/")
    httpx.post(f"{base}/{sc.name}/_refresh", timeout=30.0)
    r = httpx.post(f"{base}/{sc.name}/_search",
                   json={"size": 10_000, "_source": ["id", "urgency.reasons"],
                         "query": {"match_all": {}}}, timeout=60.0)
    r.raise_for_status()
    out: dict[str, int] = {}
    for hit in r.json()["hits"]["hits"]:
        reasons = hit["_source"].get("urgency", {}).get("reasons", [])
        nth = [int(m.group(1)) for m in map(_NTH_CONTACT.match, reasons) if m]
        out[hit["_id"]] = nth[0] if nth else 1
    return out
