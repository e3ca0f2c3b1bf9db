"""Fixtures for the fault tests: the real stack must be up (no skips), and every test gets
an isolated ``Scenario`` whose workers, topics and indices are removed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings
from tests.reliability.harness import Scenario, kafka_up, scenario_lifetime, search_up

#: Upper bound for one fault test (each is designed to finish well inside it).
TEST_TIMEOUT_S = 420


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a ``reliability`` test with a hard time limit."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


@pytest.fixture(scope="session")
def stack() -> Settings:
    """The running local stack; a missing server is a failure, never a skip."""
    settings = Settings()
    if not kafka_up(settings):
        pytest.fail(f"Kafka is not reachable at {settings.kafka_bootstrap}: run `voc stack up`")
    if not search_up(settings):
        pytest.fail(f"OpenSearch is not reachable at {settings.search_url}: run `voc stack up`")
    return settings


@pytest.fixture()
def scenario(stack: Settings, request: pytest.FixtureRequest, tmp_path: Path
             ) -> Iterator[Scenario]:
    with scenario_lifetime(Scenario(test=request.node.name, workdir=tmp_path, base=stack),
                           request) as sc:
        yield sc


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember whether the test body failed, so the fixture can print worker logs."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call_failed = rep.failed  # type: ignore[attr-defined]
