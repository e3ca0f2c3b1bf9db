"""Fixtures for the scale suite: one multi-node cluster for the session (three KRaft brokers,
two OpenSearch nodes), torn down at the end, and an isolated scenario (topics with 12
partitions and 3 replicas, consumer group, search alias, workers) per test.

``pytest tests`` leaves this folder out (tests/conftest.py); ``make test-scale`` names it:
the cluster alone takes a few GB and a minute or two to start.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.harness import Scenario, WorkerProc, scenario_lifetime
from tests.scale.cluster import (
    PARTITIONS,
    REPLICATION,
    SEARCH_REPLICAS,
    WORKER_BASE_PORT,
    Cluster,
)

#: upper bound for one scale test (each is designed to finish well inside it)
TEST_TIMEOUT_S = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.scale)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


class ClusterScenario(Scenario):
    """A ``Scenario`` whose workers are configured for the cluster: the scale suite's
    worker ports, one search replica, 12 partitions and replication 3 for Faust's own
    topics too, and one enrichment thread each (three workers share this machine)."""

    def add_worker(self, extra_env: dict[str, str] | None = None) -> WorkerProc:
        idx = len(self.workers)
        port = WORKER_BASE_PORT + idx
        env = self.worker_env(port, self.workdir / f"worker{idx}", {
            "VOC_SEARCH_REPLICAS": str(SEARCH_REPLICAS),
            "VOC_TOPICS__PARTITIONS": str(PARTITIONS),
            "VOC_TOPICS__REPLICATION_FACTOR": str(REPLICATION),
            "VOC_ENRICH__MODEL__THREADS": "1",
            "VOC_ENRICH__MODEL__PARALLEL": "1",
            **(extra_env or {}),
        })
        w = WorkerProc(name=f"{self.name}-w{idx}", env=env, web_port=port,
                       log_path=self.workdir / f"worker{idx}.log")
        self.workers.append(w)
        return w


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("scale-cluster")
    c = Cluster(state)
    try:
        c.up()
        yield c
    finally:
        c.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture()
def scale_scenario(cluster: Cluster, request: pytest.FixtureRequest, tmp_path: Path
                   ) -> Iterator[ClusterScenario]:
    def restart_killed_nodes() -> None:
        # a test that killed a node restarts it; if it failed half-way, bring it back
        # here, before the scenario's topics and indices are deleted
        for node in cluster.nodes:
            if node.pid() is None:
                cluster.restart(node)

    with scenario_lifetime(ClusterScenario(test=request.node.name, workdir=tmp_path,
                                           base=cluster.settings),
                           request, restart_killed_nodes) as sc:
        yield sc


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call_failed = rep.failed  # type: ignore[attr-defined]
