"""Integration tests run against the REAL local stack (``voc stack up``).

A server that is down is a test failure with the command to fix it, never a skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration carries the ``integration`` marker."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def live_stack() -> Settings:
    """Settings for the running stack; fails when any service is not up."""
    from streams.stack import status

    settings = Settings()
    down = [f"{s.name} ({s.state})" for s in status(settings) if s.state != "up"]
    if down:
        pytest.fail(f"local stack not up: {', '.join(down)}; run `voc stack up`")
    return settings
