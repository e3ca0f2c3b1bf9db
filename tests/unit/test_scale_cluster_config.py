"""The scale suite's cluster configs (tests/scale/cluster.py), checked without starting a
server, so ``make test`` notices when a change to the stack's launch code breaks them."""

from __future__ import annotations

from pathlib import Path

from streams.stack.kafka import KafkaService
from tests.scale.cluster import (
    CONTROLLER_PORTS,
    KAFKA_PORTS,
    SEARCH_HTTP_PORTS,
    SEARCH_TRANSPORT_PORTS,
    Cluster,
)


def _props(svc: KafkaService) -> dict[str, str]:
    return dict(line.split("=", 1) for line in svc.server_properties().splitlines()
                if "=" in line and not line.startswith("#"))


def test_three_brokers_one_static_quorum_three_copies_two_in_sync(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    props = [_props(b) for b in cluster.brokers]
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    assert {p["controller.quorum.voters"] for p in props} == {
        ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(CONTROLLER_PORTS))}
    assert all("controller.quorum.bootstrap.servers" not in p for p in props)
    assert [p["advertised.listeners"] for p in props] == [
        f"PLAINTEXT://127.0.0.1:{port}" for port in KAFKA_PORTS]
    for p in props:
        assert p["default.replication.factor"] == "3"
        assert p["min.insync.replicas"] == "2"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"
    assert len({p["log.dirs"] for p in props}) == 3
    assert all(b.format_options() == [] for b in cluster.brokers)
    # the single-node stack keeps its standalone controller
    single = KafkaService(cluster.settings)
    assert single.format_options() == ["--standalone"]
    assert _props(single)["offsets.topic.replication.factor"] == "1"


def test_two_search_nodes_one_manager_and_topics_of_twelve_by_three(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    manager, data = cluster.search_nodes
    seeds = ",".join(f"127.0.0.1:{p}" for p in SEARCH_TRANSPORT_PORTS)
    assert manager.argv()[-8:] == [str(manager.state_dir), str(SEARCH_HTTP_PORTS[0]),
                                   str(SEARCH_TRANSPORT_PORTS[0]), "voc-scale", "opensearch1",
                                   seeds, "opensearch1", "cluster_manager,data,ingest"]
    assert data.argv()[-4:] == ["opensearch2", seeds, "-", "data,ingest"]
    assert manager.marker != data.marker  # each PID file checks its own node's command line
    s = cluster.settings
    assert (s.topics.partitions, s.topics.replication_factor, s.search_replicas) == (12, 3, 1)
    assert s.kafka_bootstrap.split(",") == [f"127.0.0.1:{p}" for p in KAFKA_PORTS]
