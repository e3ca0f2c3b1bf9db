"""Both search adapters against the REAL local OpenSearch.

``opensearch``: opensearch-py straight to the server. ``elasticsearch``: the official
Elasticsearch client through the header-translating test proxy (``es_proxy_url``), so every
template, bulk and query request runs on a real engine. Each test uses its own alias and
deletes its indices afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.records import EnrichedFeedback
from streams.cli.since import parse_since
from streams.metrics import Metrics
from streams.search import (
    RetryPolicy,
    SearchBackend,
    SearchUnavailable,
    detect_backend,
    make_backend,
)
from streams.search.base import external_version
from streams.search.elastic import ElasticBackend
from streams.search.opensearch import OpenSearchBackend
from streams.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def feedback(
    n: int,
    text: str,
    *,
    sentiment: str = "neutral",
    score: float = 0.0,
    topics: tuple[str, ...] = (),
    rant: bool = False,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """A valid EnrichedFeedback document, built through the real record model."""
    at = received_at or NOW
    rec = EnrichedFeedback(
        id=f"sms:T{n}", channel="sms", brand="acme-mobile", customer_id=f"C{n}",
        received_at=at, enriched_at=at + timedelta(seconds=1), text=text, language="en",
        sentiment={"label": sentiment, "score": score},
        emotion={"label": "anger" if rant else "neutral",
                 "scores": {"anger": 0.7 if rant else 0.0, "disgust": 0.0, "fear": 0.0,
                            "joy": 0.0, "neutral": 0.3 if rant else 1.0, "sadness": 0.0,
                            "surprise": 0.0}},
        topics=[{"name": t, "confidence": 0.9, "evidence": text[:20]} for t in topics],
        urgency={"level": "critical" if rant else "low", "score": 0.9 if rant else 0.1,
                 "reasons": ["threatens to cancel"] if rant else []},
        is_rant=rant, pii={"redacted": False, "kinds": []},
        model={"encoder": "test", "version": "0"},
    )
    return rec.model_dump(mode="json")


CORPUS = [
    feedback(1, "You charged me twice for one order and nobody answers the phone",
             sentiment="negative", score=-0.8, topics=("billing",), rant=True),
    feedback(2, "Parcel arrived two days late and the box was crushed",
             sentiment="negative", score=-0.5, topics=("delivery",)),
    feedback(3, "Lovely staff at the Leeds store, thank you", sentiment="positive", score=0.9,
             topics=("staff",)),
    feedback(4, "The bill is fine now, thanks", sentiment="positive", score=0.6,
             topics=("billing",)),
    feedback(5, "Charged twice again last spring", sentiment="negative", score=-0.6,
             topics=("billing",), received_at=NOW - timedelta(days=120)),
]


def _body(resp: Any) -> Any:
    return getattr(resp, "body", resp)


@pytest.fixture(params=["opensearch", "elasticsearch"])
async def backend(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[
        SearchBackend]:
    settings = Settings(search_replicas=0, search_retry_attempts=3, search_retry_base_s=0.05)
    if request.param == "opensearch":
        b = make_backend(settings, kind="opensearch", alias=f"voc-feedback-test-{unique_name}")
    else:
        url = request.getfixturevalue("es_proxy_url")
        b = make_backend(settings, kind="elasticsearch", url=url,
                         alias=f"voc-feedback-test-{unique_name}")
    if not await b.ping():
        pytest.fail(f"{request.param}: search engine not reachable (run `voc stack up`)")
    try:
        yield b
    finally:
        await b.drop()
        await b.close()


async def test_ensure_index_installs_template_and_alias(backend: SearchBackend) -> None:
    await backend.ensure_index()
    await backend.ensure_index()  # idempotent
    tmpl = _body(await backend.client.indices.get_index_template(name=backend.alias))
    entry = tmpl["index_templates"][0]["index_template"]
    assert entry["index_patterns"] == [f"{backend.alias}-*"]
    assert backend.alias in entry["template"]["aliases"]
    aliases = _body(await backend.client.indices.get_alias(name=backend.alias))
    assert f"{backend.alias}-{datetime.now(UTC):%Y.%m}" in aliases
    assert await backend.count() == 0
    mapping = _body(await backend.client.indices.get_mapping(index=backend.alias))
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["sentiment"]["properties"]["label"]["type"] == "keyword"
    assert props["text"]["analyzer"] == "english"


async def test_bulk_index_is_idempotent_by_feedback_id(backend: SearchBackend) -> None:
    await backend.ensure_index()
    first = await backend.bulk_index(CORPUS)
    assert [r.id for r in first] == [d["id"] for d in CORPUS]
    assert all(r.ok for r in first), first
    old_month = f"{backend.alias}-{CORPUS[4]['received_at'][:7].replace('-', '.')}"
    assert first[4].index == old_month  # routed by the document's own month
    await backend.refresh()
    assert await backend.count() == len(CORPUS)
    second = await backend.bulk_index(CORPUS)  # a replay
    assert all(r.ok for r in second)
    await backend.refresh()
    assert await backend.count() == len(CORPUS)
    hits = await backend.search("", size=100)
    assert sorted(h.id for h in hits) == sorted(d["id"] for d in CORPUS)


async def test_an_older_event_never_overwrites_a_newer_one(backend: SearchBackend) -> None:
    """Feedback documents carry their event time as an external version (external_gte): a
    replayed record with an older received_at is a stale no-op (409, counted ok), the same
    event written again replaces its document, a newer one wins."""
    await backend.ensure_index()
    newer = feedback(30, "the newer text", received_at=NOW)
    older = feedback(30, "the older text", received_at=NOW - timedelta(minutes=5))
    # same month, so both writes go to the same monthly index under the same _id
    older["received_at"] = (NOW.replace(day=1, hour=0, minute=0, second=1)
                            .isoformat().replace("+00:00", "Z"))
    newer["received_at"] = (NOW.replace(day=1, hour=0, minute=0, second=2)
                            .isoformat().replace("+00:00", "Z"))
    (first,) = await backend.bulk_index([newer])
    assert first.ok and not first.stale
    (stale,) = await backend.bulk_index([older])  # a replay of an older state
    assert stale.ok and stale.stale and stale.status == 409
    again = dict(newer, text="the newer text, enriched again")
    (same,) = await backend.bulk_index([again])  # the same event: replaces its document
    assert same.ok and not same.stale
    await backend.refresh()
    hits = await backend.search("", size=10)
    assert [h.id for h in hits] == ["sms:T30"]
    body = _body(await backend.client.get(index=first.index, id="sms:T30"))
    assert body["_source"]["text"] == "the newer text, enriched again"
    assert body["_version"] == external_version(newer["received_at"])


async def test_mapping_errors_come_back_per_document(backend: SearchBackend) -> None:
    await backend.ensure_index()
    bad_date = dict(feedback(10, "fine"), received_at="not a date at all")
    bad_score = feedback(11, "fine")
    bad_score["sentiment"] = {"label": "negative", "score": "very"}
    docs = [feedback(12, "ok one"), bad_date, bad_score, feedback(13, "ok two")]
    results = await backend.bulk_index(docs)
    assert [r.ok for r in results] == [True, False, False, True]
    for r in results[1:3]:
        assert r.status == 400 and not r.retryable and r.error
    assert "received_at" in (results[1].error or "")
    assert "sentiment.score" in (results[2].error or "")
    await backend.refresh()
    assert await backend.count() == 2


async def test_search_matches_text_with_highlights_and_filters(backend: SearchBackend) -> None:
    await backend.ensure_index()
    await backend.bulk_index(CORPUS)
    await backend.refresh()

    hits = await backend.search("charged twice")
    assert {h.id for h in hits} == {"sms:T1", "sms:T5"}
    assert any("[[charged]]" in f.lower() for f in hits[0].highlights)

    month = parse_since("30d")
    assert [h.id for h in await backend.search("charged twice", since=month)] == ["sms:T1"]
    assert [h.id for h in await backend.search("", rants=True)] == ["sms:T1"]
    billing = await backend.search("", subject="billing", sentiment="positive")
    assert [h.id for h in billing] == ["sms:T4"]
    neg = await backend.search("", sentiment="negative", size=100)
    assert {h.id for h in neg} == {"sms:T1", "sms:T2", "sms:T5"}
    assert {h.id for h in await backend.search("charge")} == {"sms:T1", "sms:T5"}  # stemmed
    assert await backend.search("parcel -late") == []
    assert [h.id for h in await backend.search('"staff at the leeds"')] == ["sms:T3"]


async def test_facets_count_keyword_values_with_filters(backend: SearchBackend) -> None:
    await backend.ensure_index()
    await backend.bulk_index(CORPUS)
    await backend.refresh()
    f = await backend.facets()
    assert f["total"] == 5 and f["rants"] == 1
    assert dict(f["sentiment.label"]) == {"negative": 3, "positive": 2}
    assert dict(f["topics.name"]) == {"billing": 3, "delivery": 1, "staff": 1}
    assert dict(f["channel"]) == {"sms": 5}
    g = await backend.facets(("topics.name",), query="charged", since=parse_since("30d"))
    assert g["total"] == 1 and g["topics.name"] == [("billing", 1)]
    assert [h.id for h in await backend.most_urgent(5)] == ["sms:T1"]  # the only rant


HOSTILE = [
    "text:(a OR", "*", '{"query": {"match_all": {}}}', '\\"', '"', "((((", "a AND OR NOT",
    "/.*/", "text:*", "_id:sms:T1", "~~~^^^", "\u202e\u0000", "x" * 5000, "<script>",
    "'; DROP TABLE feedback; --", "[[", "field:[* TO *]",
]


async def test_hostile_queries_never_error(backend: SearchBackend) -> None:
    await backend.ensure_index()
    await backend.bulk_index(CORPUS)
    await backend.refresh()
    for q in HOSTILE:
        hits = await backend.search(q)
        assert isinstance(hits, list), q
    # query syntax in the text is data: it does not widen the match to everything
    assert await backend.search("text:(a OR") == []
    assert await backend.search("_id:sms:T1") == []


async def test_health_reports_the_engine(backend: SearchBackend) -> None:
    h = await backend.health()
    assert h["up"] is True and h["distribution"] == "opensearch"
    assert h["cluster_status"] in ("green", "yellow")
    assert h["backend"] == backend.name


def test_auto_detection_from_get_root() -> None:
    s = Settings()
    assert detect_backend(s) == "opensearch"
    b = make_backend(s)
    assert isinstance(b, OpenSearchBackend)


async def test_down_cluster_is_retried_then_reported_and_counted() -> None:
    metrics = Metrics(CollectorRegistry())
    s = Settings(search_retry_attempts=3, search_retry_base_s=0.01, search_retry_max_s=0.02,
                 search_timeout_s=1.0)
    for kind in ("opensearch", "elasticsearch"):
        b = make_backend(s, kind=kind, url="http://127.0.0.1:9", alias="voc-down-test",
                         metrics=metrics)
        try:
            assert await b.ping() is False
            assert (await b.health())["up"] is False
            with pytest.raises(SearchUnavailable):
                await b.bulk_index([feedback(1, "x")])
        finally:
            await b.close()
    assert metrics.value("voc_index_retries_total") == 4  # 2 retries before giving up, x2
    assert metrics.value("voc_search_up") == 0
    assert isinstance(make_backend(s, kind="elasticsearch"), ElasticBackend)


async def test_blocking_policy_waits_for_the_cluster(unique_name: str) -> None:
    """attempts=0 (the index agent's policy) keeps retrying; here we stop it by cancelling."""
    import asyncio

    s = Settings(search_retry_attempts=0, search_retry_base_s=0.01, search_retry_max_s=0.02)
    metrics = Metrics(CollectorRegistry())
    b = make_backend(s, kind="opensearch", url="http://127.0.0.1:9", alias="voc-down-test",
                     metrics=metrics)
    try:
        task = asyncio.ensure_future(b.bulk_index([feedback(1, "x")], policy=RetryPolicy(0,
                                                                                       0.01,
                                                                                       0.02)))
        await asyncio.sleep(0.5)
        assert not task.done()  # still waiting, nothing dropped
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert metrics.value("voc_index_retries_total") >= 3
    finally:
        await b.close()


def test_cli_search_prints_highlights_and_json(unique_name: str, monkeypatch) -> None:
    """The CLI runs its own event loop, so this test is synchronous."""
    import asyncio
    import json

    from click.testing import CliRunner

    from streams.cli.main import cli
    from streams.settings import get_settings

    alias = f"voc-feedback-test-{unique_name}"

    async def setup() -> None:
        b = make_backend(Settings(search_replicas=0), kind="opensearch", alias=alias)
        try:
            await b.ensure_index()
            await b.bulk_index(CORPUS)
            await b.refresh()
        finally:
            await b.close()

    async def teardown() -> None:
        b = make_backend(Settings(), kind="opensearch", alias=alias)
        try:
            await b.drop()
        finally:
            await b.close()

    try:
        asyncio.run(setup())
        monkeypatch.setenv("VOC_SEARCH_ALIAS", alias)
        get_settings.cache_clear()
        runner = CliRunner()
        res = runner.invoke(cli, ["search", "charged twice", "--since", "30d"])
        assert res.exit_code == 0, res.output
        assert "sms:T1" in res.output and "sms:T5" not in res.output
        assert "RANT" in res.output and "charged" in res.output
        res = runner.invoke(cli, ["search", "--sentiment", "negative", "--json"])
        assert res.exit_code == 0, res.output
        ids = {json.loads(line)["id"] for line in res.output.splitlines() if line.strip()}
        assert ids == {"sms:T1", "sms:T2", "sms:T5"}
        res = runner.invoke(cli, ["search", "x", "--since", "last tuesday"])
        assert res.exit_code == 2 and "--since" in res.output
        res = runner.invoke(cli, ["search", 'text:(a OR {"q"'])
        assert res.exit_code == 0 and "no matching feedback" in res.output
    finally:
        get_settings.cache_clear()
        asyncio.run(teardown())


async def test_elasticsearch_adapter_pinned_to_8_still_works(es_proxy_url: str,
                                                             unique_name: str) -> None:
    """VOC_SEARCH_ES_COMPAT=8 (for ES 8 clusters) changes only the media types."""
    s = Settings(search_replicas=0, search_es_compat=8)
    b = make_backend(s, kind="elasticsearch", url=es_proxy_url,
                     alias=f"voc-feedback-test-{unique_name}")
    try:
        await b.ensure_index()
        assert all(r.ok for r in await b.bulk_index(CORPUS[:3]))
        await b.refresh()
        assert await b.count() == 3
        assert [h.id for h in await b.search("staff")] == ["sms:T3"]
    finally:
        await b.drop()
        await b.close()


async def test_connect_backend_detects_and_installs(unique_name: str) -> None:
    from streams.search import connect_backend

    alias = f"voc-feedback-test-{unique_name}"
    b = await connect_backend(Settings(search_alias=alias, search_replicas=0))
    try:
        assert isinstance(b, OpenSearchBackend)
        assert await b.count() == 0  # alias exists right after start
    finally:
        await b.drop()
        await b.close()
    down = Settings(search_url="http://127.0.0.1:9", search_alias=alias)
    with pytest.raises(SearchUnavailable):
        await connect_backend(down, policy=RetryPolicy(2, 0.01, 0.02))


def test_any_user_text_is_a_safe_query(unique_name: str) -> None:
    """Property: whatever a user types, the real engine answers (no 4xx/5xx), and text
    that contains none of the corpus words matches nothing (syntax never widens a match)."""
    import asyncio

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    loop = asyncio.new_event_loop()
    b = make_backend(Settings(search_replicas=0), kind="opensearch",
                     alias=f"voc-feedback-test-{unique_name}")
    syntax = st.sampled_from(list('()"*~^\\/:{}[]+-|&!<>=?@#') + ["AND", "OR", "NOT", "TO",
                                                                  "_id", "text:", "*:*"])
    junk = st.lists(st.one_of(syntax, st.text(alphabet="xyzq0", min_size=1, max_size=4)),
                    max_size=12).map(" ".join)

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(q=st.one_of(junk, st.text(max_size=200)))
    def check(q: str) -> None:
        hits = loop.run_until_complete(b.search(q, size=5))
        assert isinstance(hits, list)
        only_junk = all(ch in set('()"*~^\\/:{}[]+-|&!<>=?@# xyzq0') for ch in q)
        positive = any(ch in "xyzq0" for ch in q) and not any(
            op in q for op in ("-", "!", "NOT", "*"))
        if only_junk and positive:  # no corpus word, no negation, no prefix: no match
            assert hits == [], q

    try:
        loop.run_until_complete(b.ensure_index())
        loop.run_until_complete(b.bulk_index(CORPUS))
        loop.run_until_complete(b.refresh())
        check()
    finally:
        loop.run_until_complete(b.drop())
        loop.run_until_complete(b.close())
        loop.close()


async def test_nested_aliases_coexist_and_drop_only_their_own(unique_name: str) -> None:
    """voc-x and voc-x-staging: overlapping patterns install, index apart, drop apart."""
    s = Settings(search_replicas=0)
    outer = make_backend(s, kind="opensearch", alias=f"voc-nest-{unique_name}")
    inner = make_backend(s, kind="opensearch", alias=f"voc-nest-{unique_name}-staging")
    try:
        await outer.ensure_index()
        await inner.ensure_index()
        assert all(r.ok for r in await outer.bulk_index(CORPUS[:2]))
        assert all(r.ok for r in await inner.bulk_index(CORPUS[2:]))
        await outer.refresh()
        await inner.refresh()
        assert (await outer.count(), await inner.count()) == (2, 3)
        await outer.drop()
        await inner.refresh()
        assert await inner.count() == 3
    finally:
        await inner.drop()
        await outer.drop()
        await outer.close()
        await inner.close()
