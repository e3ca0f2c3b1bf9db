"""Search request bodies and result parsing: pure functions, no client, no I/O.

Why apart from the sink: what a search asks for (and why it is safe for any user input)
is a different concern from how a request reaches a cluster and is retried, and it can be
unit-tested without a server. The sink (``streams.search.base.SearchBackend``) only sends
these bodies and hands the responses back here. Times arrive already parsed: turning
``--since 24h`` into a datetime is the CLI's job (``streams.cli.since``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

from schemas.labels import SENTIMENT_LABELS

#: The keyword fields ``facets`` counts by default.
DEFAULT_FACETS: tuple[str, ...] = ("sentiment.label", "topics.name", "urgency.level", "channel")


@dataclass(frozen=True)
class SearchHit:
    """One match: the stored document plus highlighted fragments of its text."""

    id: str
    score: float | None
    source: dict[str, Any]
    highlights: list[str] = field(default_factory=list)


class Filters(TypedDict, total=False):
    """The narrowing every feedback search takes, besides its text: one definition for the
    body builders here and the backend methods that pass them through.

    ``subject`` is a taxonomy subject, stored in the index under the wire field
    ``topics.name``; a naive ``since`` is taken as UTC; ``size`` is how many hits (for
    ``build_query``) or buckets per field (for ``facets_query``).
    """

    sentiment: str | None
    subject: str | None
    rants: bool
    since: datetime | None
    size: int


def _match(query: str, filters: Filters) -> tuple[dict[str, Any], bool]:
    """The ``bool`` query for ``query`` and ``filters``, and whether it has any text to score."""
    q = (query or "").strip()
    must: list[dict[str, Any]] = []
    if q and q != "*":
        must.append({
            "simple_query_string": {
                "query": q[:1000],
                "fields": ["text", "topics.evidence"],
                "default_operator": "and",
                "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE",
                "lenient": True,
            }
        })
    clauses: list[dict[str, Any]] = []
    sentiment = filters.get("sentiment")
    if sentiment:
        if sentiment not in SENTIMENT_LABELS:
            raise ValueError(f"sentiment must be one of {', '.join(SENTIMENT_LABELS)}")
        clauses.append({"term": {"sentiment.label": sentiment}})
    subject = filters.get("subject")
    if subject:
        clauses.append({"term": {"topics.name": subject}})
    if filters.get("rants"):
        clauses.append({"term": {"is_rant": True}})
    since = filters.get("since")
    if since is not None:
        since_ts = since if since.tzinfo else since.replace(tzinfo=UTC)
        clauses.append({"range": {"received_at": {"gte": since_ts.isoformat()}}})
    return {"bool": {"must": must or [{"match_all": {}}], "filter": clauses}}, bool(must)


def build_query(query: str, **filters: Unpack[Filters]) -> dict[str, Any]:
    """A search body that is safe for any user input.

    The text goes only into ``simple_query_string`` (which never raises on bad syntax and has
    no field/regex/script operators enabled here) and filters are ``term``/``range`` clauses
    with the values as data, never as query syntax (see ``Filters``).
    """
    match, scored = _match(query, filters)
    return {
        "size": max(0, min(int(filters.get("size", 20)), 1000)),
        "query": match,
        "highlight": {
            "fields": {"text": {"number_of_fragments": 3, "fragment_size": 160}},
            "pre_tags": ["[["],
            "post_tags": ["]]"],
        },
        "sort": (["_score", {"received_at": "desc"}] if scored else [{"received_at": "desc"}]),
    }


def facets_query(
    fields: Sequence[str] = DEFAULT_FACETS, query: str = "", **filters: Unpack[Filters]
) -> dict[str, Any]:
    """Counts per value of keyword ``fields`` (and of rants) over what ``build_query`` matches;
    ``size`` here is the number of buckets per field."""
    size = filters.get("size", 20)
    aggs: dict[str, Any] = {f"f{i}": {"terms": {"field": f, "size": size}}
                            for i, f in enumerate(fields)}
    aggs["rants"] = {"filter": {"term": {"is_rant": True}}}
    return {"size": 0, "query": _match(query, filters)[0], "track_total_hits": True,
            "aggs": aggs}


def most_urgent_query(size: int = 5) -> dict[str, Any]:
    """The rants with the highest urgency score, newest first among equals."""
    return {"size": size, "query": {"bool": {"filter": [{"term": {"is_rant": True}}]}},
            "sort": [{"urgency.score": "desc"}, {"received_at": "desc"}]}


def hits_from(response: dict[str, Any]) -> list[SearchHit]:
    """The hits of a search response, in order, with their ``text`` highlights."""
    out: list[SearchHit] = []
    for h in response.get("hits", {}).get("hits", []):
        hl = h.get("highlight", {}) or {}
        out.append(SearchHit(id=h["_id"], score=h.get("_score"), source=h.get("_source", {}),
                             highlights=list(hl.get("text", []))))
    return out


def facets_from(response: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """``{"total": n, "rants": n, field: [(value, count), ...]}`` from a ``facets_query``
    response."""
    aggs = response.get("aggregations", {})
    total = response.get("hits", {}).get("total", 0)
    out: dict[str, Any] = {
        "total": int(total["value"] if isinstance(total, dict) else total),
        "rants": int(aggs.get("rants", {}).get("doc_count", 0)),
    }
    for i, f in enumerate(fields):
        out[f] = [(b["key"], int(b["doc_count"]))
                  for b in aggs.get(f"f{i}", {}).get("buckets", [])]
    return out
