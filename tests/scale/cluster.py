"""A small production-shaped cluster on this machine, for the scale tests.

Three Kafka brokers in KRaft (each broker + controller, a static three-voter quorum),
replication factor 3 with ``min.insync.replicas=2``, and two OpenSearch nodes (one
cluster manager + data, one data-only) holding one replica of every shard. Every node is
started, stopped and killed with the local stack's own ``Service`` classes
(``streams.stack``): the same launch code, PID files and health checks as ``voc stack up``,
with only the per-node config (ports, ids, quorum, discovery) overridden here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaAdminClient

from streams.settings import Settings
from streams.stack.kafka import KafkaService, new_cluster_id
from streams.stack.opensearch import OpenSearchService
from streams.stack.process import is_zombie, port_open
from streams.stack.service import Service
from tests.reliability.harness import wait_until

#: the port ranges the scale suite owns (the shared stack owns 9092/9093/9200/9090)
KAFKA_PORTS = (29092, 29093, 29094)
CONTROLLER_PORTS = (29095, 29096, 29097)
SEARCH_HTTP_PORTS = (29200, 29201)
SEARCH_TRANSPORT_PORTS = (29205, 29206)
WORKER_BASE_PORT = 29300

PARTITIONS = 12
REPLICATION = 3
MIN_INSYNC = 2
SEARCH_REPLICAS = 1


class KafkaNode(KafkaService):
    """One of three KRaft brokers: its own ports, data dir and PID file, a static quorum."""

    def __init__(self, settings: Settings, index: int) -> None:
        super().__init__(settings)
        self.index = index
        self.node_id = index + 1
        self.name = f"kafka{self.node_id}"

    @property
    def port(self) -> int:
        return KAFKA_PORTS[self.index]

    @property
    def controller_port(self) -> int:
        return CONTROLLER_PORTS[self.index]

    def quorum_properties(self) -> list[str]:
        voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(CONTROLLER_PORTS))
        return [f"controller.quorum.voters={voters}"]

    def replication_properties(self) -> list[str]:
        """Three copies of everything, two of them in sync for a write to count."""
        return [
            f"default.replication.factor={REPLICATION}",
            f"min.insync.replicas={MIN_INSYNC}",
            f"offsets.topic.replication.factor={REPLICATION}",
            f"transaction.state.log.replication.factor={REPLICATION}",
            f"transaction.state.log.min.isr={MIN_INSYNC}",
            f"share.coordinator.state.topic.replication.factor={REPLICATION}",
            f"share.coordinator.state.topic.min.isr={MIN_INSYNC}",
            # a restarted broker takes its partitions back, so leadership spreads again
            "auto.leader.rebalance.enable=true",
            "leader.imbalance.check.interval.seconds=10",
        ]

    def format_options(self) -> list[str]:
        return []  # the static voters in the config are the quorum


class SearchNode(OpenSearchService):
    """One of two OpenSearch nodes: node 1 is the cluster manager (and data), node 2 data only,
    so losing node 2 never costs the cluster its manager (two eligible nodes could not keep a
    quorum with one gone)."""

    cluster_name = "voc-scale"

    def __init__(self, settings: Settings, index: int) -> None:
        super().__init__(settings)
        self.index = index
        self.name = f"opensearch{index + 1}"

    @property  # type: ignore[override]
    def marker(self) -> str:
        return str(self.state_dir)

    @property
    def port(self) -> int:
        return SEARCH_HTTP_PORTS[self.index]

    @property
    def transport_port(self) -> int:
        return SEARCH_TRANSPORT_PORTS[self.index]

    @property
    def classes_dir(self) -> Path:
        return Path(self.stack.state_dir) / "opensearch-classes"

    def cluster_args(self) -> list[str]:
        seeds = ",".join(f"127.0.0.1:{p}" for p in SEARCH_TRANSPORT_PORTS)
        if self.index == 0:
            return [self.name, seeds, self.name, "cluster_manager,data,ingest"]
        return [self.name, seeds, "-", "data,ingest"]

    def healthy(self) -> bool:
        """This node answers and is part of a cluster that has a manager."""
        health = self.health()
        return bool(health) and health is not None and health.get("status") in ("green",
                                                                                 "yellow")


@dataclass
class Cluster:
    """The three brokers and two search nodes, plus the settings that point at them."""

    state_dir: Path

    def __post_init__(self) -> None:
        base = Settings()
        stack = base.stack.model_copy(update={
            "state_dir": self.state_dir, "kafka_heap": "512m", "opensearch_heap": "640m",
        })
        topics = base.topics.model_copy(update={"partitions": PARTITIONS,
                                                "replication_factor": REPLICATION})
        self.settings = base.model_copy(update={
            "stack": stack, "topics": topics, "search_replicas": SEARCH_REPLICAS,
            "kafka_bootstrap": ",".join(f"127.0.0.1:{p}" for p in KAFKA_PORTS),
            "search_url": f"http://127.0.0.1:{SEARCH_HTTP_PORTS[0]}",
        })
        self.brokers = [KafkaNode(self.settings, i) for i in range(len(KAFKA_PORTS))]
        self.search_nodes = [SearchNode(self.settings, i) for i in range(len(SEARCH_HTTP_PORTS))]

    @property
    def nodes(self) -> list[Service]:
        return [*self.brokers, *self.search_nodes]

    # ------------------------------------------------------------------ lifecycle

    def up(self) -> None:
        busy = [n.port for n in self.nodes if port_open("127.0.0.1", n.port)]
        assert not busy, f"scale-suite ports already in use: {busy} (a leftover cluster?)"
        cluster_id = new_cluster_id()
        for broker in self.brokers:
            broker.state_dir.mkdir(parents=True, exist_ok=True)
            (broker.state_dir / "cluster.id").write_text(cluster_id + "\n")
        for node in self.nodes:
            node.prepare()
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_healthy(240)
        wait_until(lambda: len(self.broker_ids()) == len(self.brokers), 120,
                   what="three brokers registered")
        wait_until(lambda: self.search_health().get("number_of_nodes") == 2, 120,
                   what="two search nodes in one cluster")

    def down(self) -> None:
        """Stop every node that is ours, all at once (a broker stopped after the other two
        has no controller quorum left for its controlled shutdown and would wait for the
        SIGKILL fallback alone); ``stop`` SIGKILLs whatever does not exit in time."""
        def stop(node: Service) -> None:
            with contextlib.suppress(Exception):
                node.stop()

        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(stop, self.nodes))

    def kill9(self, node: Service) -> float:
        """SIGKILL one node (no shutdown hook, no controlled leader hand-over); returns when
        its process is gone and its port closed (monotonic time of the kill)."""
        pid = node.pid()
        assert pid is not None, f"{node.name} is not running"
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{pid}").exists() or is_zombie(pid), 60, 0.1,
                   what=f"{node.name} pid {pid} gone")
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        node.pid_file.unlink(missing_ok=True)
        wait_until(lambda: not port_open("127.0.0.1", node.port), 60, 0.2,
                   what=f"{node.name} port released")
        return killed_at

    def restart(self, node: Service) -> float:
        """Start a killed node again on the same data directory; seconds until it is healthy."""
        started = time.monotonic()
        node.start()
        node.wait_healthy(240)
        return time.monotonic() - started

    # ------------------------------------------------------------------ observation

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap.split(","),
                                request_timeout_ms=10_000)

    def broker_ids(self) -> set[int]:
        admin = self.admin()
        try:
            return {int(b["broker_id"]) for b in admin.describe_cluster()["brokers"]
                    if not b.get("is_fenced")}
        finally:
            admin.close()

    def partitions(self, topics: list[str]) -> list[dict[str, Any]]:
        """(topic, partition, leader, replicas, isr) of every partition of ``topics``."""
        admin = self.admin()
        try:
            out = []
            for t in admin.describe_topics(topics):
                for p in t["partitions"]:
                    out.append({"topic": t["name"], "partition": p["partition_index"],
                                "leader": p["leader_id"], "replicas": list(p["replica_nodes"]),
                                "isr": list(p["isr_nodes"])})
            return out
        finally:
            admin.close()

    def broker_of(self, node_id: int) -> KafkaNode:
        return next(b for b in self.brokers if b.node_id == node_id)

    def search_health(self) -> dict[str, Any]:
        for node in self.search_nodes:
            try:
                r = httpx.get(f"http://127.0.0.1:{node.port}/_cluster/health", timeout=5.0)
                if r.status_code == 200:
                    return dict(r.json())
            except httpx.HTTPError:
                continue
        return {}
