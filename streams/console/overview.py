"""Overview page: what customers say now, and whether the pipeline is healthy.

Why this shape: every number comes from the engine's aggregations (two search requests:
feedback and follow-ups) and from Prometheus/Alertmanager queries, all issued at once; the
console never counts documents itself. The request builders and response parsers are pure
functions (unit-tested without a server); the handler only gathers and renders. A backend
that is down gives "no data" for its panel, never a broken page.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp_jinja2
import httpx
from aiohttp import web

from schemas.labels import SENTIMENT_LABELS
from streams.console.auth import require_role
from streams.console.context import ConsoleContext, ctx_of

log = logging.getLogger(__name__)

SENTIMENTS = SENTIMENT_LABELS


@dataclass(frozen=True)
class Period:
    """A selectable window and the histogram step that gives ~24-30 bars for it."""

    key: str
    label: str
    span: timedelta
    step: str  # a date_histogram fixed_interval
    step_s: int


PERIODS: dict[str, Period] = {
    "1h": Period("1h", "Last hour", timedelta(hours=1), "2m", 120),
    "1d": Period("1d", "Last day", timedelta(days=1), "1h", 3600),
    "7d": Period("7d", "Last week", timedelta(days=7), "6h", 6 * 3600),
}
DEFAULT_PERIOD = "1d"
_FILTER_VALUE = re.compile(r"^[\w .@:/+-]{1,64}$")


@dataclass(frozen=True)
class Filters:
    period: Period
    brand: str | None = None
    channel: str | None = None


def parse_filters(query: dict[str, str] | Any) -> Filters:
    """Period, brand and channel from the query string; anything odd is ignored (a bad
    brand cannot inject anything: it only ever goes into a ``term`` query)."""
    period = PERIODS.get(str(query.get("period", DEFAULT_PERIOD)), PERIODS[DEFAULT_PERIOD])

    def clean(name: str) -> str | None:
        value = str(query.get(name, "")).strip()
        return value if value and _FILTER_VALUE.fullmatch(value) else None

    return Filters(period, clean("brand"), clean("channel"))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _scope(f: Filters) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if f.brand:
        out.append({"term": {"brand": f.brand}})
    if f.channel:
        out.append({"term": {"channel": f.channel}})
    return out


def feedback_body(f: Filters, now: datetime, top_topics: int = 10) -> dict[str, Any]:
    """One search request for every feedback panel: the current and previous periods are
    two range filters of the same request, so the topic trend costs no second round trip."""
    start = now - f.period.span
    prev_start = start - f.period.span
    current = {"range": {"received_at": {"gte": _iso(start), "lt": _iso(now)}}}
    previous = {"range": {"received_at": {"gte": _iso(prev_start), "lt": _iso(start)}}}

    def survey(kind: str) -> dict[str, Any]:
        return {"filter": {"term": {"survey.kind": kind}},
                "aggs": {"score": {"avg": {"field": "survey.score"}}}}

    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [
            {"range": {"received_at": {"gte": _iso(prev_start), "lt": _iso(now)}}},
            *_scope(f)]}},
        "aggs": {
            "current": {"filter": current, "aggs": {
                "over_time": {
                    "date_histogram": {
                        "field": "received_at", "fixed_interval": f.period.step,
                        "min_doc_count": 0,
                        "extended_bounds": {"min": _iso(start), "max": _iso(now)}},
                    "aggs": {"sentiment": {"terms": {"field": "sentiment.label", "size": 5}}}},
                "sentiment": {"terms": {"field": "sentiment.label", "size": 5}},
                "emotions": {"terms": {"field": "emotion.label", "size": 10}},
                "rants": {"filter": {"term": {"is_rant": True}}},
                "nps": survey("nps"),
                "csat": survey("csat"),
            }},
            "periods": {
                "filters": {"filters": {"current": current, "previous": previous}},
                "aggs": {"topics": {"terms": {"field": "topics.name", "size": top_topics * 3}}},
            },
            # the filter menus list every brand/channel of the period, whatever is selected
            "options": {"global": {}, "aggs": {"window": {"filter": current, "aggs": {
                "brands": {"terms": {"field": "brand", "size": 50}},
                "channels": {"terms": {"field": "channel", "size": 20}}}}}},
        },
    }


def followups_body(f: Filters, now: datetime) -> dict[str, Any]:
    """Open and claimed follow-ups by state and SLA (overdue, due within 1 h, later)."""
    soon = now + timedelta(hours=1)
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": [{"terms": {"state": ["open", "claimed"]}}, *_scope(f)]}},
        "aggs": {"by_state": {"terms": {"field": "state", "size": 5}, "aggs": {
            "sla": {"range": {"field": "due_by", "keyed": True, "ranges": [
                {"key": "overdue", "to": _iso(now)},
                {"key": "due_1h", "from": _iso(now), "to": _iso(soon)},
                {"key": "later", "from": _iso(soon)},
            ]}}}}},
    }


# --- parsing ---------------------------------------------------------------------------

@dataclass
class TopicTrend:
    name: str
    count: int
    previous: int

    @property
    def change_pct(self) -> float | None:
        """Change against the previous period in percent; None when it had none."""
        if self.previous == 0:
            return None
        return 100.0 * (self.count - self.previous) / self.previous


@dataclass
class Bucket:
    at: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class FeedbackSummary:
    volume: int = 0
    previous_volume: int = 0
    rants: int = 0
    sentiment: dict[str, int] = field(default_factory=dict)
    emotions: list[tuple[str, int]] = field(default_factory=list)
    topics: list[TopicTrend] = field(default_factory=list)
    over_time: list[Bucket] = field(default_factory=list)
    nps: float | None = None
    nps_n: int = 0
    csat: float | None = None
    csat_n: int = 0
    brands: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)

    @property
    def rant_rate(self) -> float | None:
        return self.rants / self.volume if self.volume else None


def _terms(agg: dict[str, Any] | None) -> list[tuple[str, int]]:
    return [(str(b.get("key_as_string", b["key"])), int(b["doc_count"]))
            for b in (agg or {}).get("buckets", [])]


def _avg(agg: dict[str, Any] | None) -> tuple[float | None, int]:
    agg = agg or {}
    value = (agg.get("score") or {}).get("value")
    return (float(value) if value is not None else None), int(agg.get("doc_count", 0))


def parse_feedback(resp: dict[str, Any], top_topics: int = 10) -> FeedbackSummary:
    aggs = resp.get("aggregations") or {}
    cur = aggs.get("current") or {}
    out = FeedbackSummary()
    out.volume = int(cur.get("doc_count", 0))
    out.rants = int((cur.get("rants") or {}).get("doc_count", 0))
    out.sentiment = dict(_terms(cur.get("sentiment")))
    out.emotions = _terms(cur.get("emotions"))
    out.nps, out.nps_n = _avg(cur.get("nps"))
    out.csat, out.csat_n = _avg(cur.get("csat"))
    for b in (cur.get("over_time") or {}).get("buckets", []):
        at = datetime.fromtimestamp(int(b["key"]) / 1000, UTC)
        out.over_time.append(Bucket(at, dict(_terms(b.get("sentiment")))))
    periods = (aggs.get("periods") or {}).get("buckets") or {}
    now_b, prev_b = periods.get("current") or {}, periods.get("previous") or {}
    out.previous_volume = int(prev_b.get("doc_count", 0))
    before = dict(_terms(prev_b.get("topics")))
    out.topics = [TopicTrend(name, n, before.get(name, 0))
                  for name, n in _terms(now_b.get("topics"))[:top_topics]]
    window = ((aggs.get("options") or {}).get("window")) or {}
    out.brands = [k for k, _ in _terms(window.get("brands"))]
    out.channels = [k for k, _ in _terms(window.get("channels"))]
    return out


SLA_KEYS = ("overdue", "due_1h", "later")


@dataclass
class FollowupSla:
    """Counts by state (open, claimed) and SLA bucket."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def get(self, state: str, sla: str) -> int:
        return self.counts.get(state, {}).get(sla, 0)

    @property
    def total(self) -> int:
        return sum(sum(v.values()) for v in self.counts.values())


def parse_followups(resp: dict[str, Any]) -> FollowupSla:
    out = FollowupSla()
    for b in ((resp.get("aggregations") or {}).get("by_state") or {}).get("buckets", []):
        ranges = (b.get("sla") or {}).get("buckets") or {}
        if isinstance(ranges, list):  # an un-keyed response (other engines' defaults)
            ranges = {r.get("key"): r for r in ranges}
        out.counts[str(b["key"])] = {k: int((ranges.get(k) or {}).get("doc_count", 0))
                                     for k in SLA_KEYS}
    for state in ("open", "claimed"):
        out.counts.setdefault(state, dict.fromkeys(SLA_KEYS, 0))
    return out


# --- Prometheus and Alertmanager -------------------------------------------------------

HEALTH_QUERIES: dict[str, tuple[str, str]] = {
    "throughput": ("Throughput (enriched/s)", "sum(rate(voc_enriched_total[5m]))"),
    "lag": ("Consumer lag (records)", "sum(voc_consumer_lag)"),
    "e2e_p99": ("End-to-end p99 (s)",
                "histogram_quantile(0.99, sum by (le) (rate(voc_end_to_end_seconds_bucket[5m])))"),
    "deadletter_rate": ("Dead letters/s", "sum(rate(voc_deadletter_total[5m]))"),
}


@dataclass
class HealthValue:
    key: str
    label: str
    query: str
    value: float | None  # None = no data (Prometheus down, no series, or NaN)
    error: str | None = None


def parse_prom_scalar(payload: dict[str, Any]) -> float | None:
    """The first sample of an instant-query answer; None for no series or NaN/Inf."""
    if payload.get("status") != "success":
        return None
    result = (payload.get("data") or {}).get("result") or []
    if not result:
        return None
    try:
        value = float(result[0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


async def prom_query(http: httpx.AsyncClient, base_url: str, query: str,
                     timeout_s: float = 2.0) -> float | None:
    resp = await http.get(f"{base_url.rstrip('/')}/api/v1/query", params={"query": query},
                          timeout=timeout_s)
    resp.raise_for_status()
    return parse_prom_scalar(resp.json())


async def pipeline_health(ctx: ConsoleContext) -> list[HealthValue]:
    """Every health query at once; one that fails is "no data", the rest still show."""
    base = ctx.settings.console.prometheus_url
    keys = list(HEALTH_QUERIES)
    results = await asyncio.gather(
        *(prom_query(ctx.http, base, HEALTH_QUERIES[k][1]) for k in keys),
        return_exceptions=True)
    out = []
    for key, res in zip(keys, results, strict=True):
        label, query = HEALTH_QUERIES[key]
        if isinstance(res, BaseException):
            out.append(HealthValue(key, label, query, None, f"{type(res).__name__}"))
        else:
            out.append(HealthValue(key, label, query, res))
    return out


_RUNBOOK_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class FiringAlert:
    name: str
    severity: str
    summary: str
    starts_at: str
    labels: dict[str, str]
    runbook: str | None


def runbook_link(name: str, annotations: dict[str, Any]) -> str | None:
    """A safe link for the alert's runbook: the console's own ``/runbooks/<name>`` path, or
    an http(s) URL as configured; anything else (javascript:...) is dropped."""
    url = str(annotations.get("runbook_url") or "")
    if url.startswith("/runbooks/") and _RUNBOOK_NAME.fullmatch(url.removeprefix("/runbooks/")):
        return url
    if url.startswith(("https://", "http://")):
        return url
    return f"/runbooks/{name}" if _RUNBOOK_NAME.fullmatch(name) else None


def parse_alerts(payload: Any) -> list[FiringAlert]:
    """Alertmanager API v2 ``/api/v2/alerts`` -> the active ones, critical first."""
    out: list[FiringAlert] = []
    if not isinstance(payload, list):
        return out
    for a in payload:
        if not isinstance(a, dict):
            continue
        status = a.get("status") or {}
        if isinstance(status, dict) and status.get("state", "active") != "active":
            continue
        labels = {str(k): str(v) for k, v in (a.get("labels") or {}).items()}
        notes = a.get("annotations") or {}
        name = labels.get("alertname", "?")
        out.append(FiringAlert(name, labels.get("severity", ""),
                               str(notes.get("summary", "")), str(a.get("startsAt", "")),
                               labels, runbook_link(name, notes)))
    out.sort(key=lambda x: (x.severity != "critical", x.starts_at))
    return out


async def firing_alerts(ctx: ConsoleContext, timeout_s: float = 2.0) -> list[FiringAlert]:
    """Raises when Alertmanager does not answer (the caller shows "unavailable")."""
    base = ctx.settings.console.alertmanager_url.rstrip("/")
    resp = await ctx.http.get(f"{base}/api/v2/alerts",
                              params={"active": "true", "silenced": "false",
                                      "inhibited": "false"}, timeout=timeout_s)
    resp.raise_for_status()
    return parse_alerts(resp.json())


# --- chart -----------------------------------------------------------------------------

@dataclass
class Bar:
    x: float
    width: float
    segments: list[tuple[str, float, float, int]]  # (sentiment, y, height, count)
    label: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    max_total: int
    ticks: list[tuple[float, str]]


def sentiment_chart(buckets: list[Bucket], period: Period, width: int = 720,
                    height: int = 180) -> Chart:
    """Stacked bars (negative at the bottom) as plain numbers for the SVG template: no
    script, so the chart works under the console's strict Content-Security-Policy."""
    n = max(len(buckets), 1)
    max_total = max((b.total for b in buckets), default=0)
    slot = width / n
    bars: list[Bar] = []
    fmt = "%H:%M" if period.span <= timedelta(days=1) else "%a %H:%M"
    for i, b in enumerate(buckets):
        y = float(height)
        segs: list[tuple[str, float, float, int]] = []
        for s in SENTIMENTS:
            c = b.counts.get(s, 0)
            h = (c / max_total * height) if max_total else 0.0
            y -= h
            segs.append((s, round(y, 1), round(h, 1), c))
        bars.append(Bar(round(i * slot + slot * 0.1, 1), round(slot * 0.8, 1), segs,
                        b.at.strftime(fmt)))
    every = max(1, n // 6)
    # a label needs ~70 px: one starting nearer the right edge would be cut off
    ticks = [(bar.x, bar.label) for i, bar in enumerate(bars)
             if i % every == 0 and bar.x <= width - 70]
    return Chart(width, height, bars, max_total, ticks)


# --- handler ---------------------------------------------------------------------------

async def _guard(coro: Any, what: str) -> tuple[Any, str | None]:
    try:
        return await coro, None
    except Exception as exc:
        log.warning("overview: %s unavailable: %s", what, exc)
        return None, f"{what} unavailable ({type(exc).__name__})"


async def gather_overview(ctx: ConsoleContext, f: Filters, now: datetime) -> dict[str, Any]:
    """Every backend request of the page, concurrently; each failure becomes a message."""
    s = ctx.settings
    (fb, fb_err), (fu, fu_err), (health, _), (alerts, al_err) = await asyncio.gather(
        _guard(ctx.search.search(s.search_alias, feedback_body(f, now)), "search"),
        _guard(ctx.search.search(s.alias("followups"), followups_body(f, now)),
               "follow-ups index"),
        _guard(pipeline_health(ctx), "Prometheus"),
        _guard(firing_alerts(ctx), "Alertmanager"),
    )
    summary = parse_feedback(fb) if fb is not None else FeedbackSummary()
    return {
        "filters": f, "periods": list(PERIODS.values()), "now": now,
        "fb": summary, "fb_error": fb_err,
        "chart": sentiment_chart(summary.over_time, f.period),
        "sla": parse_followups(fu) if fu is not None else FollowupSla(), "sla_error": fu_err,
        "sla_keys": SLA_KEYS,
        "health": health or [HealthValue(k, v[0], v[1], None, "unavailable")
                             for k, v in HEALTH_QUERIES.items()],
        "alerts": alerts or [], "alerts_error": al_err,
        "sentiments": SENTIMENTS,
    }


@require_role("viewer")
async def overview(request: web.Request) -> web.StreamResponse:
    data = await gather_overview(ctx_of(request), parse_filters(request.query),
                                 datetime.now(UTC))
    return aiohttp_jinja2.render_template("overview.html", request, data)


def setup(app: web.Application) -> None:
    app.router.add_get("/", overview, name="overview")
