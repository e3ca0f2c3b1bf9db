"""Query building for the queue and Explore: input is data, facets are aggregations."""

from __future__ import annotations

import json
from datetime import date

import pytest

from streams.console.queries import (
    FACETS,
    ExploreParams,
    QueryError,
    QueueFilters,
    explore_query,
    facet_counts,
    highlight_parts,
    queue_query,
    total_of,
)


def test_queue_defaults_to_open_and_claimed_sorted_by_priority_then_due() -> None:
    body = queue_query(QueueFilters.parse({}), "bob")
    assert body["query"]["bool"]["filter"] == [{"terms": {"state": ["open", "claimed"]}}]
    sort_fields = [next(iter(s)) for s in body["sort"]]
    assert sort_fields[:2] == ["priority", "due_by"]
    assert body["from"] == 0 and body["track_total_hits"] is True
    assert "aggs" in body  # filter choices come from the engine


def test_queue_filters_and_mine() -> None:
    f = QueueFilters.parse({"brand": "acme", "priority": "P1", "state": "claimed", "mine": "1",
                            "page": "3"})
    body = queue_query(f, "bob", size=10)
    assert body["query"]["bool"]["filter"] == [
        {"term": {"state": "claimed"}}, {"term": {"brand": "acme"}},
        {"term": {"priority": "P1"}}, {"term": {"assignee": "bob"}}]
    assert body["from"] == 20


@pytest.mark.parametrize("q", [{"priority": "P9"}, {"state": "deleted"}, {"page": "0"},
                               {"page": "x"}, {"page": "100000"}, {"brand": "b" * 201}])
def test_queue_rejects_forged_filters(q: dict[str, str]) -> None:
    with pytest.raises(QueryError):
        QueueFilters.parse(q)


HOSTILE = ['title:x OR _exists_:id', '"unclosed', '*:*', 'a AND (b', '/.*/', '{"script": 1}',
           '\\', 'text:<script>alert(1)</script>']


@pytest.mark.parametrize("text", HOSTILE)
def test_text_only_reaches_simple_query_string(text: str) -> None:
    body = explore_query(ExploreParams.parse({"q": text}))
    must = body["query"]["bool"]["must"]
    assert must == [{"simple_query_string": {
        "query": text, "fields": ["text", "topics.evidence"], "default_operator": "and",
        "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE", "lenient": True}}]
    dumped = json.dumps(body)
    assert "query_string\"" not in dumped.replace("simple_query_string", "")
    assert "script" not in json.dumps({k: v for k, v in body.items() if k != "query"})


def test_two_facets_filter_hits_and_each_facet_ignores_only_itself() -> None:
    p = ExploreParams.parse({"sentiment": "negative", "brand": "acme"})
    body = explore_query(p)
    post = body["post_filter"]["bool"]["filter"]
    assert {"term": {"sentiment.label": "negative"}} in post
    assert {"term": {"brand": "acme"}} in post
    sent_agg = body["aggs"]["sentiment"]["filter"]["bool"]["filter"]
    assert sent_agg == [{"term": {"brand": "acme"}}]  # not its own selection
    brand_agg = body["aggs"]["brand"]["filter"]["bool"]["filter"]
    assert brand_agg == [{"term": {"sentiment.label": "negative"}}]
    assert body["aggs"]["topic"]["aggs"]["values"]["terms"]["field"] == "topics.name"
    assert set(FACETS) <= set(body["aggs"])


@pytest.mark.parametrize("q", [{"sentiment": "furious"}, {"emotion": "rage"},
                               {"urgency": "extreme"}, {"channel": "fax"},
                               {"from": "yesterday"}, {"from": "2026-12-10", "to": "2026-12-01"},
                               {"q": "x" * 501}, {"topic": "t" * 201}])
def test_explore_rejects_bad_parameters(q: dict[str, str]) -> None:
    with pytest.raises(QueryError):
        ExploreParams.parse(q)


def test_date_range_is_inclusive_of_whole_days() -> None:
    p = ExploreParams.parse({"from": "2026-12-01", "to": "2026-12-07"})
    assert p.date_from == date(2026, 12, 1)
    rng = explore_query(p)["post_filter"]["bool"]["filter"][-1]["range"]["received_at"]
    assert rng == {"gte": "2026-12-01T00:00:00+00:00", "lt": "2026-12-08T00:00:00+00:00"}


def test_paging_and_links_keep_the_search() -> None:
    p = ExploreParams.parse({"q": "outage", "topic": "network", "page": "2"})
    assert explore_query(p, size=20)["from"] == 20
    assert p.args(topic=None) == {"q": "outage"}
    assert p.args(brand="acme") == {"q": "outage", "topic": "network", "brand": "acme"}


def test_facet_counts_and_total_read_aggregations() -> None:
    resp = {"hits": {"total": {"value": 42}},
            "aggregations": {"sentiment": {"doc_count": 40, "values": {"buckets": [
                {"key": "negative", "doc_count": 30}, {"key": "neutral", "doc_count": 10}]}}}}
    counts = facet_counts(resp)
    assert counts["sentiment"] == [("negative", 30), ("neutral", 10)]
    assert counts["topic"] == []
    assert total_of(resp) == 42 and total_of({"hits": {"total": 7}}) == 7


def test_highlight_parts_never_pass_markup_through() -> None:
    parts = highlight_parts("the <b>\x02outage\x03</b> again \x02today\x03")
    assert parts == [("the <b>", False), ("outage", True), ("</b> again ", False),
                     ("today", True)]
