"""Overview page: aggregation request builders, response parsers, and a page that renders
"no data" when Prometheus and Alertmanager are down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.console.app import create_console_app
from streams.console.overview import (
    PERIODS,
    Bucket,
    FiringAlert,
    feedback_body,
    followups_body,
    parse_alerts,
    parse_feedback,
    parse_filters,
    parse_followups,
    parse_prom_scalar,
    runbook_link,
    sentiment_chart,
)
from tests.unit.console_fakes import console_settings, fake_context, login, make_client

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_filters_take_known_periods_and_safe_values_only() -> None:
    f = parse_filters({"period": "7d", "brand": "acme", "channel": "sms"})
    assert (f.period.key, f.brand, f.channel) == ("7d", "acme", "sms")
    f = parse_filters({"period": "99y", "brand": '"}}<script>', "channel": ""})
    assert (f.period.key, f.brand, f.channel) == ("1d", None, None)


def test_feedback_body_scopes_both_periods_and_filters_in_one_request() -> None:
    f = parse_filters({"period": "1h", "brand": "acme", "channel": "sms"})
    body = feedback_body(f, NOW)
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"brand": "acme"}} in filters and {"term": {"channel": "sms"}} in filters
    assert filters[0]["range"]["received_at"] == {"gte": "2026-12-07T10:00:00Z",
                                                  "lt": "2026-12-07T12:00:00Z"}
    periods = body["aggs"]["periods"]["filters"]["filters"]
    assert periods["current"]["range"]["received_at"] == {"gte": "2026-12-07T11:00:00Z",
                                                          "lt": "2026-12-07T12:00:00Z"}
    assert periods["previous"]["range"]["received_at"] == {"gte": "2026-12-07T10:00:00Z",
                                                           "lt": "2026-12-07T11:00:00Z"}
    cur = body["aggs"]["current"]
    assert cur["filter"] == periods["current"]
    hist = cur["aggs"]["over_time"]
    assert hist["date_histogram"]["fixed_interval"] == "2m"
    assert hist["date_histogram"]["min_doc_count"] == 0
    assert hist["aggs"]["sentiment"]["terms"]["field"] == "sentiment.label"
    assert cur["aggs"]["nps"]["filter"] == {"term": {"survey.kind": "nps"}}
    assert cur["aggs"]["csat"]["aggs"]["score"] == {"avg": {"field": "survey.score"}}
    assert cur["aggs"]["rants"] == {"filter": {"term": {"is_rant": True}}}
    assert body["size"] == 0  # aggregations only: nothing is counted client-side


def test_followups_body_buckets_due_by_relative_to_now() -> None:
    body = followups_body(parse_filters({"brand": "acme"}), NOW)
    filters = body["query"]["bool"]["filter"]
    assert filters == [{"terms": {"state": ["open", "claimed"]}}, {"term": {"brand": "acme"}}]
    ranges = body["aggs"]["by_state"]["aggs"]["sla"]["range"]
    assert ranges["field"] == "due_by"
    assert ranges["ranges"] == [
        {"key": "overdue", "to": "2026-12-07T12:00:00Z"},
        {"key": "due_1h", "from": "2026-12-07T12:00:00Z", "to": "2026-12-07T13:00:00Z"},
        {"key": "later", "from": "2026-12-07T13:00:00Z"},
    ]


def _feedback_response() -> dict[str, Any]:
    t0 = int((NOW - timedelta(hours=2)).timestamp() * 1000)

    def terms(**kw: int) -> dict[str, Any]:
        return {"buckets": [{"key": k, "doc_count": v} for k, v in kw.items()]}

    return {"aggregations": {
        "current": {
            "doc_count": 40,
            "over_time": {"buckets": [
                {"key": t0, "doc_count": 10, "sentiment": terms(negative=6, positive=4)},
                {"key": t0 + 3_600_000, "doc_count": 30,
                 "sentiment": terms(negative=10, neutral=10, positive=10)}]},
            "sentiment": terms(negative=16, neutral=10, positive=14),
            "emotions": terms(anger=12, joy=9),
            "rants": {"doc_count": 6},
            "nps": {"doc_count": 5, "score": {"value": 7.4}},
            "csat": {"doc_count": 0, "score": {"value": None}},
        },
        "periods": {"buckets": {
            "current": {"doc_count": 40, "topics": terms(outage=20, billing=8, staff=3)},
            "previous": {"doc_count": 25, "topics": terms(billing=16, outage=4)},
        }},
        "options": {"doc_count": 100, "window": {"doc_count": 60,
                                                 "brands": terms(acme=40, globex=20),
                                                 "channels": terms(sms=50, survey=10)}},
    }}


def test_parse_feedback_reads_every_panel() -> None:
    s = parse_feedback(_feedback_response())
    assert (s.volume, s.previous_volume, s.rants) == (40, 25, 6)
    assert s.rant_rate == 0.15
    assert s.sentiment == {"negative": 16, "neutral": 10, "positive": 14}
    assert s.emotions == [("anger", 12), ("joy", 9)]
    assert (s.nps, s.nps_n, s.csat, s.csat_n) == (7.4, 5, None, 0)
    trend = {t.name: (t.count, t.previous, t.change_pct) for t in s.topics}
    assert trend == {"outage": (20, 4, 400.0), "billing": (8, 16, -50.0), "staff": (3, 0, None)}
    assert [b.total for b in s.over_time] == [10, 30]
    assert s.over_time[0].at == NOW - timedelta(hours=2)
    assert (s.brands, s.channels) == (["acme", "globex"], ["sms", "survey"])


def test_parse_feedback_of_an_empty_index_is_zero_not_an_error() -> None:
    s = parse_feedback({"hits": {"hits": []}, "aggregations": {}})
    assert (s.volume, s.rant_rate, s.nps, s.topics, s.over_time) == (0, None, None, [], [])


def test_parse_followups_keyed_and_list_forms() -> None:
    resp = {"aggregations": {"by_state": {"buckets": [
        {"key": "open", "doc_count": 7, "sla": {"buckets": {
            "overdue": {"doc_count": 2}, "due_1h": {"doc_count": 4}, "later": {"doc_count": 1}}}},
        {"key": "claimed", "doc_count": 3, "sla": {"buckets": [
            {"key": "overdue", "doc_count": 1}, {"key": "later", "doc_count": 2}]}},
    ]}}}
    sla = parse_followups(resp)
    assert [sla.get("open", k) for k in ("overdue", "due_1h", "later")] == [2, 4, 1]
    assert [sla.get("claimed", k) for k in ("overdue", "due_1h", "later")] == [1, 0, 2]
    assert sla.total == 10
    assert parse_followups({}).get("open", "overdue") == 0


def test_prometheus_scalars_and_no_data() -> None:
    ok = {"status": "success", "data": {"resultType": "vector",
                                        "result": [{"metric": {}, "value": [1.0, "12.5"]}]}}
    assert parse_prom_scalar(ok) == 12.5
    assert parse_prom_scalar({"status": "success", "data": {"result": []}}) is None
    nan = {"status": "success", "data": {"result": [{"value": [1.0, "NaN"]}]}}
    assert parse_prom_scalar(nan) is None
    assert parse_prom_scalar({"status": "error", "error": "bad query"}) is None


def test_alerts_are_active_only_critical_first_with_safe_runbook_links() -> None:
    payload = [
        {"labels": {"alertname": "VocRantSpike", "severity": "warning"},
         "annotations": {"summary": "spike", "runbook_url": "/runbooks/VocRantSpike"},
         "startsAt": "2026-12-07T11:00:00Z", "status": {"state": "active"}},
        {"labels": {"alertname": "VocWorkerDown", "severity": "critical"},
         "annotations": {"runbook_url": "javascript:alert(1)"},
         "startsAt": "2026-12-07T11:30:00Z", "status": {"state": "active"}},
        {"labels": {"alertname": "Old", "severity": "critical"}, "annotations": {},
         "status": {"state": "suppressed"}},
    ]
    alerts = parse_alerts(payload)
    assert [a.name for a in alerts] == ["VocWorkerDown", "VocRantSpike"]
    assert alerts[0].runbook == "/runbooks/VocWorkerDown"  # the bad URL is replaced
    assert alerts[1] == FiringAlert("VocRantSpike", "warning", "spike", "2026-12-07T11:00:00Z",
                                    {"alertname": "VocRantSpike", "severity": "warning"},
                                    "/runbooks/VocRantSpike")
    assert parse_alerts({"not": "a list"}) == []
    assert runbook_link("x/../y", {"runbook_url": "/runbooks/../etc"}) is None


def test_sentiment_chart_stacks_to_the_tallest_bar() -> None:
    buckets = [Bucket(NOW, {"negative": 5, "positive": 5}),
               Bucket(NOW + timedelta(hours=1), {"negative": 2, "neutral": 1, "positive": 2})]
    chart = sentiment_chart(buckets, PERIODS["1d"], width=200, height=100)
    assert chart.max_total == 10
    tall = chart.bars[0].segments
    assert sum(h for _s, _y, h, _c in tall) == 100.0
    assert [s for s, *_ in tall] == ["negative", "neutral", "positive"]
    assert tall[0][1] == 50.0  # negative sits at the bottom
    assert sum(h for _s, _y, h, _c in chart.bars[1].segments) == 50.0
    assert sentiment_chart([], PERIODS["1h"]).max_total == 0


async def test_overview_renders_with_prometheus_and_alertmanager_down(tmp_path: Path) -> None:
    settings = console_settings(tmp_path, prometheus_url="http://127.0.0.1:1",
                                alertmanager_url="http://127.0.0.1:1")
    ctx, search, _pub = fake_context(settings)
    search.responses[settings.search_alias] = _feedback_response()
    client = await make_client(create_console_app(settings, ctx, secret=b"s" * 32))
    try:
        await login(client, "vic")
        resp = await client.get("/?period=1h&brand=acme")
        html = await resp.text()
        assert resp.status == 200, html
        assert 'data-testid="volume">40<' in html
        assert 'data-testid="rant-rate">15.0%<' in html
        assert "<svg" in html and 'class="bar-negative"' in html
        assert html.count("no data") >= 4  # every health value
        assert "Alertmanager unavailable" in html
        asked = {alias for alias, _ in search.bodies}
        assert asked == {settings.search_alias, settings.alias("followups")}
        fb_body = next(b for a, b in search.bodies if a == settings.search_alias)
        assert {"term": {"brand": "acme"}} in fb_body["query"]["bool"]["filter"]  # type: ignore[index]
    finally:
        await client.close()


async def test_overview_needs_login(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    ctx, _search, _pub = fake_context(settings)
    client = await make_client(create_console_app(settings, ctx, secret=b"s" * 32))
    try:
        resp = await client.get("/", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/login")
    finally:
        await client.close()
