"""Search bodies for the queue and Explore pages: user input is always data.

Free text goes only into ``simple_query_string`` (no field, regex or script syntax; it
never raises on odd input) and every filter value into ``term``/``terms``/``range``
clauses, validated first. Counts come from aggregations, never from counting hits here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

from schemas.records import Emotion, Sentiment, Urgency

PAGE_SIZE = 20
MAX_PAGE = 500  # from + size stays far below the engines' 10,000 window
MAX_QUERY_CHARS = 500
MAX_VALUE_CHARS = 200
# the closed vocabularies, from the records that own them
SENTIMENTS: tuple[str, ...] = get_args(Sentiment.model_fields["label"].annotation)
EMOTIONS: tuple[str, ...] = get_args(Emotion.model_fields["label"].annotation)
URGENCIES: tuple[str, ...] = get_args(Urgency.model_fields["level"].annotation)
CHANNELS = ("sms", "survey")
PRIORITIES = ("P1", "P2", "P3")
QUEUE_STATES = ("open", "claimed", "closed")

# Explore facets: URL parameter -> index field (closed vocabularies are checked)
FACETS: dict[str, str] = {"sentiment": "sentiment.label", "emotion": "emotion.label",
                          "topic": "topics.name", "brand": "brand", "channel": "channel",
                          "urgency": "urgency.level"}
CLOSED_VALUES: dict[str, tuple[str, ...]] = {"sentiment": SENTIMENTS, "emotion": EMOTIONS,
                                             "urgency": URGENCIES, "channel": CHANNELS}


class QueryError(ValueError):
    """A parameter no page of the console would send: 400 with the reason."""


def _value(name: str, raw: str | None, allowed: tuple[str, ...] | None = None) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_VALUE_CHARS:
        raise QueryError(f"{name}: value too long")
    if allowed is not None and raw not in allowed:
        raise QueryError(f"{name} must be one of {', '.join(allowed)}")
    return raw


def _page(raw: str | None) -> int:
    if raw in (None, ""):
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise QueryError(f"page must be a number from 1 to {MAX_PAGE}")
    return int(raw)


def _day(name: str, raw: str | None) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise QueryError(f"{name} must be a date like 2026-12-31") from exc


# --- follow-up queue ---------------------------------------------------------------------

@dataclass(frozen=True)
class QueueFilters:
    brand: str | None = None
    priority: str | None = None
    state: str | None = None  # None = open and claimed
    mine: bool = False
    page: int = 1

    @classmethod
    def parse(cls, q: Mapping[str, str]) -> QueueFilters:
        return cls(brand=_value("brand", q.get("brand")),
                   priority=_value("priority", q.get("priority"), PRIORITIES),
                   state=_value("state", q.get("state"), QUEUE_STATES),
                   mine=q.get("mine") in ("1", "on", "true"),
                   page=_page(q.get("page")))


QUEUE_FIELDS = ["id", "feedback_id", "brand", "channel", "priority", "due_by", "created_at",
                "received_at", "state", "assignee", "summary", "emotion", "sentiment",
                "urgency", "breached", "version", "last_outcome"]


def queue_query(f: QueueFilters, user: str, size: int = 50) -> dict[str, Any]:
    """Open and claimed follow-ups (or one state), most urgent first: priority, then due."""
    filters: list[dict[str, Any]] = [
        {"term": {"state": f.state}} if f.state else {"terms": {"state": ["open", "claimed"]}}]
    if f.brand:
        filters.append({"term": {"brand": f.brand}})
    if f.priority:
        filters.append({"term": {"priority": f.priority}})
    if f.mine:
        filters.append({"term": {"assignee": user}})
    return {
        "size": size, "from": (f.page - 1) * size, "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
        "sort": [{"priority": {"order": "asc", "unmapped_type": "keyword"}},
                 {"due_by": {"order": "asc", "unmapped_type": "date"}},
                 {"id": {"order": "asc", "unmapped_type": "keyword"}}],
        "_source": QUEUE_FIELDS,
        # filter choices over everything open, so a filter never hides its own options
        "aggs": {"all": {"global": {}, "aggs": {"live": {
            "filter": {"terms": {"state": ["open", "claimed"]}},
            "aggs": {"brand": {"terms": {"field": "brand", "size": 50}},
                     "priority": {"terms": {"field": "priority", "size": 5}},
                     "state": {"terms": {"field": "state", "size": 5}}}}}}},
    }


def earlier_contacts_query(customer_id: str, exclude_id: str, size: int = 20) -> dict[str, Any]:
    """The customer's other feedback, newest first (redacted fields only)."""
    return {
        "size": size,
        "query": {"bool": {"filter": [{"term": {"customer_id": customer_id}}],
                           "must_not": [{"ids": {"values": [exclude_id]}}]}},
        "sort": [{"received_at": {"order": "desc", "unmapped_type": "date"}}],
        "_source": ["id", "received_at", "channel", "brand", "text", "sentiment.label",
                    "emotion.label", "urgency.level", "is_rant", "survey"],
    }


# --- explore -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ExploreParams:
    q: str = ""
    facets: dict[str, str] = field(default_factory=dict)
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def parse(cls, q: Mapping[str, str]) -> ExploreParams:
        text = (q.get("q") or "").strip()
        if len(text) > MAX_QUERY_CHARS:
            raise QueryError(f"the search text is longer than {MAX_QUERY_CHARS} characters")
        facets = {}
        for name in FACETS:
            v = _value(name, q.get(name), CLOSED_VALUES.get(name))
            if v is not None:
                facets[name] = v
        d_from, d_to = _day("from", q.get("from")), _day("to", q.get("to"))
        if d_from and d_to and d_from > d_to:
            raise QueryError("from must not be after to")
        return cls(q=text, facets=facets, date_from=d_from, date_to=d_to,
                   page=_page(q.get("page")))

    def args(self, **change: str | None) -> dict[str, str]:
        """URL parameters for a link that changes one thing (and goes back to page 1)."""
        out: dict[str, str] = {}
        if self.q:
            out["q"] = self.q
        out.update(self.facets)
        if self.date_from:
            out["from"] = self.date_from.isoformat()
        if self.date_to:
            out["to"] = self.date_to.isoformat()
        for k, v in change.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
        return out


def _text_clause(text: str) -> dict[str, Any]:
    return {"simple_query_string": {
        "query": text, "fields": ["text", "topics.evidence"], "default_operator": "and",
        "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE", "lenient": True}}


def _filters(p: ExploreParams, skip: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"term": {FACETS[k]: v}} for k, v in p.facets.items()
                                 if k != skip]
    rng: dict[str, str] = {}
    if p.date_from:
        rng["gte"] = datetime.combine(p.date_from, datetime.min.time(), UTC).isoformat()
    if p.date_to:
        end = datetime.combine(p.date_to + timedelta(days=1), datetime.min.time(), UTC)
        rng["lt"] = end.isoformat()
    if rng:
        out.append({"range": {"received_at": rng}})
    return out


EXPLORE_FIELDS = ["id", "received_at", "channel", "brand", "text", "sentiment", "emotion.label",
                  "topics.name", "urgency.level", "urgency.score", "is_rant", "survey",
                  "language"]


def explore_query(p: ExploreParams, size: int = PAGE_SIZE) -> dict[str, Any]:
    """Hits with highlights plus one aggregation per facet.

    Each facet's counts ignore that facet's own selection (a ``post_filter`` applies the
    selections to the hits; each facet aggregation re-applies all the others), so picking
    "negative" still shows how many neutral and positive match: the usual faceted search.
    """
    must = [_text_clause(p.q)] if p.q else [{"match_all": {}}]
    aggs: dict[str, Any] = {}
    for name, fld in FACETS.items():
        others = _filters(p, skip=name)
        aggs[name] = {"filter": {"bool": {"filter": others}},
                      "aggs": {"values": {"terms": {"field": fld, "size": 30}}}}
    aggs["rants"] = {"filter": {"bool": {"filter": _filters(p) + [
        {"term": {"is_rant": True}}]}}}
    body: dict[str, Any] = {
        "size": size, "from": (p.page - 1) * size, "track_total_hits": True,
        "query": {"bool": {"must": must}},
        "post_filter": {"bool": {"filter": _filters(p)}},
        "aggs": aggs,
        "highlight": {"fields": {"text": {"number_of_fragments": 3, "fragment_size": 160},
                                 "topics.evidence": {"number_of_fragments": 2}},
                      "pre_tags": ["\x02"], "post_tags": ["\x03"],
                      "encoder": "default"},
        "sort": (["_score", {"received_at": {"order": "desc", "unmapped_type": "date"}}]
                 if p.q else [{"received_at": {"order": "desc", "unmapped_type": "date"}}]),
        "_source": EXPLORE_FIELDS,
    }
    return body


def facet_counts(resp: Mapping[str, Any]) -> dict[str, list[tuple[str, int]]]:
    aggs = resp.get("aggregations") or {}
    return {name: [(str(b["key"]), int(b["doc_count"]))
                   for b in (aggs.get(name) or {}).get("values", {}).get("buckets", [])]
            for name in FACETS}


def hits_of(resp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The hit list of a search response (``_id``, ``_source``, ``highlight``...)."""
    hits = resp.get("hits")
    found = hits.get("hits") if isinstance(hits, Mapping) else None
    return [h for h in found if isinstance(h, dict)] if isinstance(found, list) else []


def total_of(resp: Mapping[str, Any]) -> int:
    """The hit count of a search response, in either engine's shape (``{"value": n}`` or n)."""
    total = (resp.get("hits") or {}).get("total") or 0
    return int(total.get("value", 0) if isinstance(total, dict) else total)


def highlight_parts(fragment: str) -> list[tuple[str, bool]]:
    """Split an engine fragment marked with \\x02...\\x03 into (text, highlighted) parts, so
    the template escapes customer text and adds <mark> itself: no engine HTML is trusted."""
    parts: list[tuple[str, bool]] = []
    on = False
    buf = ""
    for ch in fragment:
        if ch in "\x02\x03":
            if buf:
                parts.append((buf, on))
            buf, on = "", ch == "\x02"
        else:
            buf += ch
    if buf:
        parts.append((buf, on))
    return parts
