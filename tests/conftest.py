"""Fixtures shared by every test folder (unit, stream, integration, reliability).

Only cheap, lazy fixtures live here; anything that needs the real stack checks for
it when it is requested and fails loudly (never skips) when a server is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from streams.settings import Settings

#: tests/scale starts its own multi-node cluster (several GB, minutes): `pytest tests` leaves
#: it out; it runs only when named (`pytest tests/scale`, which `make test-scale` does)
collect_ignore = ["scale"]


@pytest.fixture(scope="session")
def es_proxy_url() -> Iterator[str]:
    """URL of a header-translating proxy in front of the local OpenSearch.

    Point the ``elasticsearch`` client here to exercise it against a real engine
    (see tests/support/es_proxy.py for why the proxy is needed).
    """
    from streams.stack.process import http_ok
    from tests.support.es_proxy import EsProxy

    upstream = Settings().search_url
    if not http_ok(upstream):
        pytest.fail(f"OpenSearch is not reachable at {upstream}: run `voc stack up`")
    with EsProxy(upstream) as proxy:
        yield proxy.url


@pytest.fixture()
def unique_name() -> str:
    """A short unique lower-case name for topics, indices and groups of one test."""
    return f"t{uuid.uuid4().hex[:10]}"
