"""Explore: full-text search over ``voc-feedback`` with facets, highlights and paging, and
the message page that shows every enrichment field with the reasons behind it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from streams.console.auth import error_page, require_role
from streams.console.context import ctx_of
from streams.console.queries import (
    FACETS,
    PAGE_SIZE,
    ExploreParams,
    QueryError,
    explore_query,
    facet_counts,
    highlight_parts,
    hits_of,
    total_of,
)

FACET_TITLES = {"sentiment": "Sentiment", "emotion": "Emotion", "topic": "Topic",
                "brand": "Brand", "channel": "Channel", "urgency": "Urgency"}
# fields of a feedback document the message page may show; anything else (and any
# unredacted original) is never rendered
MESSAGE_FIELDS = ("id", "channel", "brand", "customer_id", "received_at", "enriched_at",
                  "indexed_at", "text", "survey", "language", "language_supported", "opt_out",
                  "truncated", "sentiment", "emotion", "topics", "urgency", "is_rant", "pii",
                  "model")


def _url(params: dict[str, str]) -> str:
    return "/explore?" + urlencode(params) if params else "/explore"


@require_role("viewer")
async def explore_page(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    try:
        p = ExploreParams.parse(request.query)
    except QueryError as exc:
        return error_page(request, 400, "Bad search", str(exc))
    resp = await ctx.search.search(ctx.settings.search_alias, explore_query(p))
    total = total_of(resp)
    counts = facet_counts(resp)
    facets = []
    for name in FACETS:
        chosen = p.facets.get(name)
        values = [(v, n, v == chosen, _url(p.args(**{name: None if v == chosen else v})))
                  for v, n in counts[name]]
        if chosen and not any(v == chosen for v, *_ in values):
            values.insert(0, (chosen, 0, True, _url(p.args(**{name: None}))))
        facets.append((name, FACET_TITLES[name], values))
    hits = []
    for h in hits_of(resp):
        hl = h.get("highlight") or {}
        frags = [highlight_parts(f) for f in hl.get("text", [])]
        hits.append({"id": h["_id"], "s": h.get("_source", {}), "fragments": frags,
                     "evidence": [highlight_parts(f) for f in hl.get("topics.evidence", [])]})
    pages = max(1, -(-total // PAGE_SIZE))
    aggs = resp.get("aggregations")
    rants_agg = aggs.get("rants") if isinstance(aggs, dict) else None
    rants = int(rants_agg.get("doc_count", 0)) if isinstance(rants_agg, dict) else 0
    return aiohttp_jinja2.render_template("explore.html", request, {
        "p": p, "hits": hits, "total": total, "facets": facets, "rants": rants,
        "page": p.page, "pages": pages,
        "prev_url": _url({**p.args(), "page": str(p.page - 1)}) if p.page > 1 else None,
        "next_url": _url({**p.args(), "page": str(p.page + 1)}) if p.page < pages else None,
        "clear_url": _url({"q": p.q} if p.q else {}),
        "active": [(FACET_TITLES[k], v, _url(p.args(**{k: None})))
                   for k, v in p.facets.items()]})


@require_role("viewer")
async def message_page(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    mid = request.match_info["mid"]
    doc = await ctx.search.get(ctx.settings.search_alias, mid)
    if doc is None:
        raise web.HTTPNotFound(text=f"No message with id {mid[:200]!r} in the index.")
    shown: dict[str, Any] = {k: doc[k] for k in MESSAGE_FIELDS if k in doc}
    followup = await ctx.search.get(ctx.settings.alias("followups"), f"followup:{mid}")
    return aiohttp_jinja2.render_template("message.html", request, {
        "m": shown, "followup": followup})


def setup(app: web.Application) -> None:
    app.router.add_get("/explore", explore_page)
    app.router.add_get("/messages/{mid:.+}", message_page)
