"""The follow-up queue: open rants, most urgent first, and the actions that close the loop.

Reads ``voc-followups`` (written by the worker's follow-up state agent) and the customer's
earlier contacts from ``voc-feedback``; writes only FollowUpOutcome records and audit
events to Kafka. The decisions live in ``outcomes`` (pure); this module does the I/O.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
from aiohttp import web

from streams.console import outcomes
from streams.console.auth import current_user, error_page, flash, redirect, require_role
from streams.console.context import ConsoleContext, PublishError, ctx_of, utcnow_iso
from streams.console.queries import (
    PRIORITIES,
    QueryError,
    QueueFilters,
    earlier_contacts_query,
    hits_of,
    queue_query,
    total_of,
)

POLL_INTERVAL_S = 0.25
QUEUE_SIZE = 50


def followup_url(fid: str) -> str:
    return "/followups/" + quote(fid, safe=":")


def _buckets(resp: dict[str, Any], name: str) -> list[tuple[str, int]]:
    live = ((resp.get("aggregations") or {}).get("all") or {}).get("live") or {}
    return [(str(b["key"]), int(b["doc_count"])) for b in live.get(name, {}).get("buckets", [])]


@require_role("viewer")
async def queue_page(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    who = current_user(request)
    assert who is not None
    try:
        filters = QueueFilters.parse(request.query)
    except QueryError as exc:
        return error_page(request, 400, "Bad filter", str(exc))
    resp = await ctx.search.search(ctx.settings.alias("followups"),
                                   queue_query(filters, who[0], QUEUE_SIZE))
    hits = [h.get("_source", {}) for h in hits_of(resp)]
    total = total_of(resp)
    args = {k: v for k, v in (("brand", filters.brand), ("priority", filters.priority),
                               ("state", filters.state), ("mine", "1" if filters.mine else None))
            if v}
    pages = max(1, -(-total // QUEUE_SIZE))
    return aiohttp_jinja2.render_template("queue.html", request, {
        "items": hits, "total": total, "filters": filters,
        "brands": _buckets(resp, "brand"), "priorities": PRIORITIES,
        "priority_counts": dict(_buckets(resp, "priority")),
        "state_counts": dict(_buckets(resp, "state")),
        "page": filters.page, "pages": pages,
        "prev_url": ("/followups?" + urlencode({**args, "page": filters.page - 1})
                     if filters.page > 1 else None),
        "next_url": ("/followups?" + urlencode({**args, "page": filters.page + 1})
                     if filters.page < pages else None),
        "followup_url": followup_url, "now": utcnow_iso()})


async def _load(ctx: ConsoleContext, fid: str) -> dict[str, Any]:
    doc = await ctx.search.get(ctx.settings.alias("followups"), fid)
    if doc is None:
        raise web.HTTPNotFound(text=f"No follow-up with id {fid[:200]!r}. It may not be "
                                    "indexed yet, or the link is wrong.")
    return doc


@require_role("viewer")
async def followup_page(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    fid = request.match_info["fid"]
    doc = await _load(ctx, fid)
    earlier: list[dict[str, Any]] = []
    customer = doc.get("customer_id")
    if isinstance(customer, str) and customer:
        resp = await ctx.search.search(ctx.settings.search_alias, earlier_contacts_query(
            customer, str(doc.get("feedback_id") or "")))
        earlier = [h.get("_source", {}) for h in hits_of(resp)]
    urgency_value = doc.get("urgency")
    urgency: dict[str, Any] = urgency_value if isinstance(urgency_value, dict) else {}
    # the follow-up's reasons and the urgency's are often the same list: show each once
    why = list(dict.fromkeys(str(r) for r in [*(doc.get("reasons") or []),
                                               *(urgency.get("reasons") or [])]))
    return aiohttp_jinja2.render_template("followup.html", request, {
        "f": doc, "earlier": earlier, "why": why, "action_id": outcomes.new_action_id(),
        "actions": [(a, outcomes.LABELS[a]) for a in outcomes.ACTIONS],
        "note_max": ctx.settings.console.note_max_chars, "followup_url": followup_url,
        "history": list(reversed(doc.get("history") or []))})


async def wait_for_verdict(ctx: ConsoleContext, fid: str, action_id: str,
                           expected_version: int) -> outcomes.Result:
    """Poll the follow-up document until the worker has moved past the version we saw."""
    deadline = time.monotonic() + ctx.settings.console.outcome_wait_s
    doc: dict[str, Any] | None = None
    while True:
        doc = await ctx.search.get(ctx.settings.alias("followups"), fid)
        found = outcomes.verdict(doc, action_id, expected_version)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            return outcomes.timed_out_doc(doc, action_id, expected_version)
        await asyncio.sleep(POLL_INTERVAL_S)


@require_role("agent")
async def followup_action(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    who = current_user(request)
    assert who is not None
    actor, role = who
    fid = request.match_info["fid"]
    form = await request.post()
    try:
        req = outcomes.parse_action(form, ctx.settings.console.note_max_chars)
    except outcomes.FormError as exc:
        kind = form.get("outcome")
        await ctx.audit(actor, role, kind if kind in outcomes.ACTIONS else "invalid", fid,
                        f"refused: {exc}", "invalid")
        return error_page(request, 400, "Bad request", f"{exc}. Nothing was changed.")
    doc = await _load(ctx, fid)
    decision = outcomes.precheck(doc, req, actor, role)
    detail = json.dumps({"action_id": req.action_id, "expected_version": req.expected_version,
                         "note_chars": len(req.note or "")})
    if decision.kind == "done":
        flash(request, decision.message, "ok")
        return redirect(followup_url(fid))
    if decision.kind in ("conflict", "noop"):
        await ctx.audit(actor, role, req.outcome, fid, detail, "conflict"
                        if decision.kind == "conflict" else "noop")
        flash(request, decision.message, "error" if decision.kind == "conflict" else "ok")
        return redirect(followup_url(fid))
    record = outcomes.build_outcome(fid, req, actor, utcnow_iso())
    try:
        await ctx.publisher.publish(ctx.topic("followup_outcomes"), fid.encode("utf-8"),
                                    json.dumps(record).encode("utf-8"))
    except PublishError as exc:
        await ctx.audit(actor, role, req.outcome, fid, detail, "failed")
        return error_page(request, 503, "Not sent", f"{exc}. Nothing was changed; try again "
                                                    "when Kafka is back.")
    result = await wait_for_verdict(ctx, fid, req.action_id, req.expected_version)
    await ctx.audit(actor, role, req.outcome, fid, detail, result.verdict)
    flash(request, result.message, "error" if result.verdict == "conflict" else "ok")
    return redirect(followup_url(fid))


def setup(app: web.Application) -> None:
    app.router.add_get("/followups", queue_page)
    app.router.add_get("/followups/{fid:.+}", followup_page)
    app.router.add_post("/followups/{fid:.+}", followup_action)
