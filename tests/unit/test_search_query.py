"""Search sink pieces that need no server: query building, --since, index routing, retry,
results."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from streams.cli.since import parse_since
from streams.search.base import (
    IndexResult,
    RetryPolicy,
    _result,
    index_for,
    load_template,
    retry,
)
from streams.search.query import (
    SearchHit,
    build_query,
    facets_from,
    facets_query,
    hits_from,
    most_urgent_query,
)


def test_user_text_goes_only_into_simple_query_string() -> None:
    body = build_query('text:(a OR {"query": 1} \\"', sentiment="negative", subject="billing",
                       rants=True)
    must = body["query"]["bool"]["must"]
    assert list(must[0]) == ["simple_query_string"]
    assert must[0]["simple_query_string"]["query"].startswith("text:(a OR")
    assert "query_string" not in str({k: v for k, v in body.items() if k != "query"})
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"sentiment.label": "negative"}} in filters
    assert {"term": {"topics.name": "billing"}} in filters
    assert {"term": {"is_rant": True}} in filters


def test_empty_or_star_query_is_match_all_newest_first() -> None:
    for q in ("", "  ", "*"):
        body = build_query(q)
        assert body["query"]["bool"]["must"] == [{"match_all": {}}]
        assert body["sort"] == [{"received_at": "desc"}]


def test_unknown_sentiment_is_refused() -> None:
    with pytest.raises(ValueError):
        build_query("x", sentiment="angry")


def test_since_accepts_relative_and_iso() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2026-11-01T00:00:00Z") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_since("yesterday-ish")


def test_since_is_a_range_filter_and_naive_times_are_utc() -> None:
    aware = datetime(2026, 11, 1, 8, tzinfo=UTC)
    for since in (aware, aware.replace(tzinfo=None)):
        filters = build_query("x", since=since)["query"]["bool"]["filter"]
        assert filters == [{"range": {"received_at": {"gte": "2026-11-01T08:00:00+00:00"}}}]
    assert parse_since(None) is None


def test_bad_since_is_a_usage_error_naming_the_option() -> None:
    import click

    from streams.cli.since import since_option

    with pytest.raises(click.BadParameter, match="24h, 7d"):
        since_option("last tuesday")
    assert since_option("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)


def test_facets_body_counts_fields_and_rants_over_the_same_filters() -> None:
    body = facets_query(("topics.name", "channel"), "bill", sentiment="negative",
                        subject="billing", size=7)
    assert body["size"] == 0 and body["track_total_hits"] is True
    assert "highlight" not in body and "sort" not in body
    assert body["aggs"] == {"f0": {"terms": {"field": "topics.name", "size": 7}},
                            "f1": {"terms": {"field": "channel", "size": 7}},
                            "rants": {"filter": {"term": {"is_rant": True}}}}
    assert body["query"] == build_query("bill", sentiment="negative", subject="billing")["query"]


def test_facets_and_hits_are_read_back_from_responses() -> None:
    resp = {"hits": {"total": {"value": 3, "relation": "eq"}, "hits": [
                {"_id": "a", "_score": 1.5, "_source": {"text": "x"},
                 "highlight": {"text": ["[[x]]"]}},
                {"_id": "b", "_score": None, "_source": {}}]},
            "aggregations": {"rants": {"doc_count": 1},
                             "f0": {"buckets": [{"key": "billing", "doc_count": 2}]}}}
    assert facets_from(resp, ("topics.name", "channel")) == {
        "total": 3, "rants": 1, "topics.name": [("billing", 2)], "channel": []}
    assert facets_from({"hits": {"total": 4}}, ()) == {"total": 4, "rants": 0}
    assert hits_from(resp) == [SearchHit("a", 1.5, {"text": "x"}, ["[[x]]"]),
                               SearchHit("b", None, {}, [])]
    urgent = most_urgent_query(5)
    assert urgent["size"] == 5 and urgent["sort"][0] == {"urgency.score": "desc"}


def test_index_is_chosen_from_the_documents_own_month() -> None:
    assert index_for("a", {"received_at": "2026-01-31T23:59:59Z"}) == "a-2026.01"
    assert index_for("a", {"received_at": datetime(2025, 7, 1)}) == "a-2025.07"
    assert index_for("a", {"received_at": "garbage"}) == "a-undated"


def test_template_is_bound_to_the_alias() -> None:
    t = load_template("voc-test-x", replicas=0)
    assert t["index_patterns"] == ["voc-test-x-*"]
    assert t["template"]["aliases"] == {"voc-test-x": {}}
    assert t["template"]["settings"]["number_of_replicas"] == 0
    props = t["template"]["mappings"]["properties"]
    for kw in ("channel", "brand", "language"):
        assert props[kw]["type"] == "keyword"
    assert props["sentiment"]["properties"]["label"]["type"] == "keyword"
    assert props["topics"]["properties"]["name"]["type"] == "keyword"
    assert props["urgency"]["properties"]["level"]["type"] == "keyword"
    assert props["text"]["analyzer"] == "english"


def test_bulk_items_become_results() -> None:
    ok = _result("a", True, {"index": {"_index": "i", "status": 201}})
    assert ok == IndexResult(id="a", ok=True, status=201, index="i")
    bad = _result("b", False, {"index": {"status": 400, "error": {
        "type": "document_parsing_exception", "reason": "failed to parse field [received_at]"}}})
    assert not bad.ok and not bad.retryable and "received_at" in (bad.error or "")
    busy = _result("c", False, {"index": {"status": 429, "error": {"type": "es_rejected"}}})
    assert busy.retryable and busy.outcome == "retryable"
    assert bad.outcome == "error" and bad.failure == "permanent"


def test_a_write_block_is_waited_out_and_a_stale_version_is_a_no_op() -> None:
    """403 cluster_block (read-only index, flood-stage disk) is blocked: sent again, never
    dead-lettered; 409 on a versioned write is success with nothing written; 400 mapping and
    illegal_argument errors are permanent for that document."""
    blocked = _result("d", False, {"index": {"status": 403, "error": {
        "type": "cluster_block_exception",
        "reason": "index [voc-feedback-2026.12] blocked by: [FORBIDDEN/8/index write (api)];"}}})
    assert not blocked.ok and blocked.retryable and blocked.outcome == "blocked"
    stale = _result("e", False, {"index": {"status": 409, "error": {
        "type": "version_conflict_engine_exception", "reason": "current version [5] is higher"}}})
    assert stale.ok and stale.stale and stale.outcome == "stale"
    for kind in ("mapper_parsing_exception", "illegal_argument_exception"):
        bad = _result("f", False, {"index": {"status": 400, "error": {"type": kind}}})
        assert not bad.retryable and bad.outcome == "error"
    other = _result("g", False, {"index": {"status": 403, "error": {"type": "security_exception"}}})
    assert other.outcome == "error"


async def _no_sleep(_: float) -> None:
    return None


def test_retry_retries_retryable_then_succeeds() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise ConnectionError("down")
        return "ok"

    seen: list[int] = []
    out = asyncio.run(retry(flaky, policy=RetryPolicy(max_attempts=0), sleep=_no_sleep,
                            is_retryable=lambda e: isinstance(e, ConnectionError),
                            on_retry=lambda n, e: seen.append(n)))
    assert out == "ok" and len(calls) == 4 and seen == [1, 2, 3]


def test_retry_gives_up_after_max_attempts_and_never_retries_permanent_errors() -> None:
    calls: list[int] = []

    async def down() -> None:
        calls.append(1)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        asyncio.run(retry(down, policy=RetryPolicy(max_attempts=3), sleep=_no_sleep,
                          is_retryable=lambda e: True))
    assert len(calls) == 3

    async def bad() -> None:
        calls.append(2)
        raise ValueError("mapping")

    with pytest.raises(ValueError):
        asyncio.run(retry(bad, policy=RetryPolicy(max_attempts=0), sleep=_no_sleep,
                          is_retryable=lambda e: isinstance(e, ConnectionError)))
    assert calls.count(2) == 1


def test_backoff_grows_and_is_capped() -> None:
    p = RetryPolicy(base_s=1.0, max_s=8.0)
    for attempt in range(1, 12):
        d = p.delay(attempt)
        assert 0.0 <= d <= min(8.0, 2 ** (attempt - 1))


def test_every_enriched_feedback_field_is_mapped() -> None:
    from schemas.records import EnrichedFeedback

    props = load_template("a")["template"]["mappings"]["properties"]
    assert set(EnrichedFeedback.model_fields) <= set(props)


def test_es_compat_pin_rewrites_media_types_for_an_es8_cluster() -> None:
    """The 9.x client asks for compatible-with=9, which ES 8 rejects; the pin sends 8."""
    from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
    from elasticsearch import AsyncElasticsearch

    from streams.search.elastic import pin_compat

    client = AsyncElasticsearch("http://127.0.0.1:9")
    seen: list[dict[str, str]] = []

    async def recorder(method: str, target: str, **kw: object) -> object:
        seen.append(dict(kw["headers"]))  # type: ignore[arg-type]
        meta = ApiResponseMeta(status=200, http_version="1.1",
                               headers=HttpHeaders({"x-elastic-product": "Elasticsearch"}),
                               duration=0.0, node=NodeConfig("http", "127.0.0.1", 9))
        return meta, {"items": [], "errors": False, "took": 1}

    client.transport.perform_request = recorder  # type: ignore[method-assign]
    pin_compat(client, 8)

    async def go() -> None:
        await client.bulk(operations=[{"index": {"_index": "x", "_id": "1"}}, {"a": 1}])
        await client.close()

    asyncio.run(go())
    h = {k.lower(): v for k, v in seen[0].items()}
    assert h["accept"].endswith("compatible-with=8")
    assert h["content-type"] == "application/vnd.elasticsearch+x-ndjson; compatible-with=8"


class _ScriptedBulk:
    """Engine stand-in for the bulk loop only: answers each round from a script."""

    def __init__(self, rounds: list[list[tuple[bool, dict]]]) -> None:
        self.rounds = rounds
        self.sent: list[list[str]] = []


def _scripted_backend(rounds: list[list[tuple[bool, dict]]]):  # type: ignore[no-untyped-def]
    from prometheus_client import CollectorRegistry

    from streams.metrics import Metrics
    from streams.search.base import SearchBackend

    script = _ScriptedBulk(rounds)

    class Scripted(SearchBackend):
        def is_retryable(self, exc: BaseException) -> bool:
            return isinstance(exc, ConnectionError)

        async def _bulk(self, actions):  # type: ignore[no-untyped-def]
            script.sent.append([a["_id"] for a in actions])
            return script.rounds.pop(0)

        async def _put_template(self, name, body): ...  # type: ignore[no-untyped-def]
        async def _index_exists(self, index): return True  # type: ignore[no-untyped-def]
        async def _create_index(self, index): ...  # type: ignore[no-untyped-def]
        async def _search(self, body): return {}  # type: ignore[no-untyped-def]
        async def _count(self): return 0  # type: ignore[no-untyped-def]
        async def _info(self): return {}  # type: ignore[no-untyped-def]
        async def _cluster_health(self): return {}  # type: ignore[no-untyped-def]
        async def _refresh(self): ...  # type: ignore[no-untyped-def]
        async def _drop(self): ...  # type: ignore[no-untyped-def]
        async def close(self): ...  # type: ignore[no-untyped-def]

    m = Metrics(CollectorRegistry())
    return Scripted(None, alias="a", policy=RetryPolicy(0, 0.001, 0.002), metrics=m), script, m


def test_bulk_resends_only_retryable_documents() -> None:
    ok = (True, {"index": {"status": 201, "_index": "a-2026.11"}})
    busy = (False, {"index": {"status": 429, "error": {"type": "es_rejected_execution"}}})
    bad = (False, {"index": {"status": 400, "error": {"type": "mapper_parsing_exception",
                                                      "reason": "bad"}}})
    b, script, m = _scripted_backend([[ok, busy, bad], [busy], [ok]])
    docs = [{"id": i, "received_at": "2026-11-25T00:00:00Z"} for i in ("a", "b", "c")]
    res = asyncio.run(b.bulk_index(docs))
    assert script.sent == [["a", "b", "c"], ["b"], ["b"]]
    assert [r.ok for r in res] == [True, True, False]
    assert res[2].status == 400 and not res[2].retryable
    assert m.value("voc_index_retries_total") == 2
    assert m.value("voc_index_docs_total", {"result": "ok"}) == 2
    assert m.value("voc_index_docs_total", {"result": "error"}) == 1


def test_bulk_with_finite_policy_returns_leftovers_as_retryable() -> None:
    busy = (False, {"index": {"status": 503, "error": "unavailable"}})
    b, script, m = _scripted_backend([[busy], [busy]])
    res = asyncio.run(b.bulk_index([{"id": "x", "received_at": "2026-11-25"}],
                                   policy=RetryPolicy(2, 0.001, 0.002)))
    assert len(script.sent) == 2 and res[0].retryable and not res[0].ok
    assert m.value("voc_index_docs_total", {"result": "retryable"}) == 1


def test_nested_alias_names_get_distinct_template_priorities() -> None:
    short, longer = load_template("voc-feedback"), load_template("voc-feedback-staging")
    assert longer["priority"] > short["priority"]


def test_external_versions_from_sequence_numbers_and_event_times() -> None:
    from datetime import UTC, datetime

    from schemas.indices import FEEDBACK, FOLLOWUPS
    from streams.search.base import external_version

    assert external_version(7) == 7
    assert external_version("2026-11-25T18:00:00Z") == 1_795_629_600_000
    assert external_version("2026-11-25T18:00:00.250+00:00") == 1_795_629_600_250
    assert external_version(datetime(2026, 11, 25, 18, tzinfo=UTC)) == 1_795_629_600_000
    for never_negative in ("0001-01-01T00:00:00Z", "not a date", None, -5, True):
        assert external_version(never_negative) == 0
    assert (FEEDBACK.version_field, FEEDBACK.version_type) == ("received_at", "external_gte")
    assert (FOLLOWUPS.version_field, FOLLOWUPS.version_type) == ("seq", "external")
