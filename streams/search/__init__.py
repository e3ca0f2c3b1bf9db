"""Search sink: one interface (``SearchBackend``), Elasticsearch and OpenSearch adapters."""

from streams.search.base import (
    IndexResult,
    RetryPolicy,
    SearchBackend,
    SearchUnavailable,
    index_for,
    retry,
)
from streams.search.factory import connect_backend, detect_backend, detect_server, make_backend
from streams.search.query import SearchHit, build_query

__all__ = [
    "IndexResult",
    "RetryPolicy",
    "SearchBackend",
    "SearchHit",
    "SearchUnavailable",
    "build_query",
    "connect_backend",
    "detect_backend",
    "detect_server",
    "index_for",
    "make_backend",
    "retry",
]
