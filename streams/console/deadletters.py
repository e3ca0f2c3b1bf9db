"""Dead letters page: what the pipeline parked, why, and (admin) re-drive or discard it.

Why it reads Kafka: the index holds only a PII-safe preview, never the original bytes; a
re-drive reads the original from ``voc.deadletter`` at the row's position and produces it
to its source topic. A dead letter carries its original only when the worker ran with
``VOC_DEADLETTER_KEEP_ORIGINAL=true`` (the default keeps a redacted preview and a keyed
hash): such a row shows why it cannot be re-driven and offers discard only, and rows with
the same hash (the same bad record again) are one click apart. Status comes from the audit
trail (latest ``redrive``/``discard`` event for the row's id), so the console keeps no
state of its own; an in-process record of the last actions covers the second or so before
the audit event is indexed, so a double click cannot re-drive twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp_jinja2
from aiohttp import web

from streams.console.auth import current_user, flash, redirect, require_role
from streams.console.context import ConsoleContext, PublishError, ctx_of, kafka_security_kwargs
from streams.console.queries import hits_of, total_of

log = logging.getLogger(__name__)

PAGE_SIZE = 25
MAX_PAGE = 10_000 // PAGE_SIZE - 1  # the engine's default max_result_window
DL_ID = re.compile(r"^\d{1,6}:\d{1,19}$")
_FACET_VALUE = re.compile(r"^[\w.:/+-]{1,100}$")
_HMAC = re.compile(r"^[0-9a-f]{64}$")
NOT_KEPT = ("the original was not kept: this dead letter holds a redacted preview and a keyed "
            "hash only (originals are kept for re-drive only with "
            "VOC_DEADLETTER_KEEP_ORIGINAL=true)")
ACTIONS = ("redrive", "discard")
READ_TIMEOUT_S = 10.0


# --- list --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DlFilters:
    reason: str | None = None
    source: str | None = None
    page: int = 0
    hash: str | None = None  # original_hmac: every dead letter of the same original


def parse_dl_filters(query: Any) -> DlFilters:
    def clean(name: str) -> str | None:
        v = str(query.get(name, "")).strip()
        return v if v and _FACET_VALUE.fullmatch(v) else None

    try:
        page = max(0, min(int(query.get("page", "0")), MAX_PAGE))
    except ValueError:
        page = 0
    digest = str(query.get("hash", "")).strip().lower()
    return DlFilters(clean("reason"), clean("source"), page,
                     digest if _HMAC.fullmatch(digest) else None)


def list_body(f: DlFilters) -> dict[str, Any]:
    """Rows of one page plus both facets in one request; each facet ignores its own
    filter (post_filter), so choosing a reason still lists every reason."""
    post: list[dict[str, Any]] = []
    if f.reason:
        post.append({"term": {"reason": f.reason}})
    if f.source:
        post.append({"term": {"source_topic": f.source}})
    if f.hash:
        post.append({"term": {"original_hmac": f.hash}})

    def facet(field: str, other: dict[str, Any] | None) -> dict[str, Any]:
        terms = {"terms": {"field": field, "size": 30}}
        if other is None:
            return terms
        return {"filter": other, "aggs": {"values": terms}}

    by_reason = {"term": {"source_topic": f.source}} if f.source else None
    by_source = {"term": {"reason": f.reason}} if f.reason else None
    return {
        "size": PAGE_SIZE, "from": f.page * PAGE_SIZE, "track_total_hits": True,
        "_source": ["id", "source_topic", "partition", "offset", "key", "reason", "error",
                    "preview", "size_bytes", "failed_at", "dl_partition", "dl_offset",
                    "original_kept", "original_hmac"],
        "query": {"match_all": {}},
        "post_filter": {"bool": {"filter": post}},
        "sort": [{"failed_at": {"order": "desc"}}, {"dl_offset": {"order": "desc"}}],
        "aggs": {"reasons": facet("reason", by_reason), "sources": facet("source_topic",
                                                                        by_source)},
    }


def _facet(agg: dict[str, Any] | None) -> list[tuple[str, int]]:
    agg = agg or {}
    if "values" in agg:
        agg = agg["values"]
    return [(str(b["key"]), int(b["doc_count"])) for b in agg.get("buckets", [])]


@dataclass
class DeadLetterRow:
    id: str
    source_topic: str
    partition: int | None
    offset: int | None
    reason: str
    error: str
    preview: str
    size_bytes: int
    failed_at: str
    redrivable: bool = True  # the original was kept (dead letters before v2 always had it)
    digest: str = ""  # the keyed hash of the original (original_hmac)
    status: str = "parked"
    status_by: str = ""
    status_at: str = ""


def parse_list(resp: dict[str, Any]) -> tuple[list[DeadLetterRow], int, dict[str, list]]:
    rows = []
    for h in hits_of(resp):
        s = h.get("_source") or {}
        rows.append(DeadLetterRow(
            id=str(h.get("_id") or s.get("id")), source_topic=str(s.get("source_topic", "")),
            partition=s.get("partition"), offset=s.get("offset"),
            reason=str(s.get("reason", "")), error=str(s.get("error", ""))[:300],
            preview=str(s.get("preview", ""))[:280], size_bytes=int(s.get("size_bytes") or 0),
            failed_at=str(s.get("failed_at", "")),
            redrivable=s.get("original_kept") is not False,
            digest=str(s.get("original_hmac") or "")))
    aggs = resp.get("aggregations") or {}
    return rows, total_of(resp), {"reason": _facet(aggs.get("reasons")),
                                  "source": _facet(aggs.get("sources"))}


def status_body(ids: list[str]) -> dict[str, Any]:
    """The latest successful redrive/discard audit event per id, in one request."""
    return {
        "size": 0,
        "query": {"bool": {"filter": [{"terms": {"action": list(ACTIONS)}},
                                      {"terms": {"target": ids}},
                                      {"term": {"result": "ok"}}]}},
        "aggs": {"by_target": {"terms": {"field": "target", "size": max(len(ids), 1)},
                               "aggs": {"latest": {"top_hits": {
                                   "size": 1, "sort": [{"at": {"order": "desc"}}],
                                   "_source": ["action", "actor", "at"]}}}}},
    }


@dataclass(frozen=True)
class Status:
    action: str
    actor: str
    at: str


def parse_status(resp: dict[str, Any]) -> dict[str, Status]:
    out: dict[str, Status] = {}
    agg = (resp.get("aggregations") or {}).get("by_target") or {}
    for b in agg.get("buckets", []):
        hits = ((b.get("latest") or {}).get("hits") or {}).get("hits") or []
        if hits:
            s = hits[0].get("_source") or {}
            out[str(b["key"])] = Status(str(s.get("action", "")), str(s.get("actor", "")),
                                        str(s.get("at", "")))
    return out


# --- actions -----------------------------------------------------------------------------

class DeadLetterReader(Protocol):
    """Reads one record of the dead-letter topic by position."""

    async def read(self, topic: str, partition: int, offset: int) -> dict[str, Any]: ...


class DeadLetterGone(LookupError):
    """The record is no longer on the topic (retention) or the position is wrong."""


class KafkaDeadLetterReader:
    """One short-lived aiokafka consumer per read: re-drives are rare, and no consumer
    group is joined, so the console never takes partitions from anyone."""

    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx

    async def read(self, topic: str, partition: int, offset: int) -> dict[str, Any]:
        from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

        s = self.ctx.settings
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="none",
                                    max_partition_fetch_bytes=8 * 1024 * 1024,
                                    fetch_max_bytes=8 * 1024 * 1024,
                                    **kafka_security_kwargs(s))
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
            while asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
                for rec in batch.get(tp, []):
                    if rec.offset != offset:
                        raise DeadLetterGone(f"{topic}[{partition}]@{offset} is gone "
                                             f"(first record now at {rec.offset})")
                    return dict(json.loads(rec.value))
            raise DeadLetterGone(f"{topic}[{partition}]@{offset} could not be read in "
                                 f"{READ_TIMEOUT_S:.0f} s")
        except DeadLetterGone:
            raise
        except Exception as exc:  # OffsetOutOfRange and friends: say so, never a traceback
            raise DeadLetterGone(f"{topic}[{partition}]@{offset}: {type(exc).__name__}: "
                                 f"{str(exc)[:200]}") from exc
        finally:
            await consumer.stop()


READER: web.AppKey[DeadLetterReader] = web.AppKey("voc_console_dl_reader", DeadLetterReader)
DONE: web.AppKey[dict[str, Status]] = web.AppKey("voc_console_dl_done", dict)
LOCK: web.AppKey[asyncio.Lock] = web.AppKey("voc_console_dl_lock", asyncio.Lock)


def original_of(value: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """(original bytes, key) of a dead-letter record; a key the worker masked as PII
    ("[REDACTED]") cannot be restored, so that record goes out without a key."""
    if value.get("original_kept") is False:
        raise DeadLetterGone(NOT_KEPT)
    try:
        original = base64.b64decode(str(value.get("original_b64", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DeadLetterGone("the dead-letter record's original_b64 is not base64") from exc
    if not original:
        raise DeadLetterGone("the dead-letter record carries no original bytes")
    key = value.get("key")
    if not isinstance(key, str) or not key or key == "[REDACTED]":
        return original, None
    return original, key.encode("utf-8")


async def current_status(ctx: ConsoleContext, dl_id: str) -> Status | None:
    resp = await ctx.search.search(ctx.settings.alias("audit"), status_body([dl_id]))
    return parse_status(resp).get(dl_id)


def _refusal(dl_id: str, st: Status) -> str:
    verb = "re-driven" if st.action == "redrive" else "discarded"
    return f"Dead letter {dl_id} was already {verb} by {st.actor} at {st.at}; nothing done."


async def _act(request: web.Request, action: str) -> web.StreamResponse:
    ctx = ctx_of(request)
    who = current_user(request)
    assert who is not None  # require_role ran
    dl_id = request.match_info["id"]
    back = "/deadletters"
    if not DL_ID.fullmatch(dl_id):
        raise web.HTTPBadRequest(text=f"{dl_id[:40]!r} is not a dead-letter id "
                                      "(<partition>:<offset>). Nothing was changed.")
    doc = await ctx.search.get(ctx.settings.alias("deadletters"), dl_id)
    if doc is None:
        raise web.HTTPNotFound(text=f"No dead letter {dl_id}. Nothing was changed.")
    async with request.app[LOCK]:
        st = request.app[DONE].get(dl_id) or await current_status(ctx, dl_id)
        if st is not None:
            flash(request, _refusal(dl_id, st), "error")
            await ctx.audit(who[0], who[1], action, dl_id, f"refused: already {st.action}",
                            "refused")
            return redirect(back)
        if action == "redrive" and doc.get("original_kept") is False:
            await ctx.audit(who[0], who[1], "redrive", dl_id, "refused: original not kept",
                            "refused")
            flash(request, f"Re-drive of {dl_id} is not possible: {NOT_KEPT}. Nothing was "
                  "sent; discard it once the cause is understood.", "error")
            return redirect(back)
        if action == "redrive":
            source = str(doc.get("source_topic", ""))
            try:
                value = await request.app[READER].read(
                    ctx.topic("deadletter"), int(doc["dl_partition"]), int(doc["dl_offset"]))
                original, key = original_of(value)
                source = str(value.get("source_topic") or source)
                if not source:
                    raise DeadLetterGone("the dead letter names no source topic")
                await ctx.publisher.publish(source, key, original)
            except (DeadLetterGone, PublishError, KeyError, ValueError) as exc:
                await ctx.audit(who[0], who[1], "redrive", dl_id, str(exc)[:300], "failed")
                flash(request, f"Re-drive of {dl_id} failed: {exc}. Nothing was sent.", "error")
                return redirect(back)
            detail = f"to {source} ({len(original)} bytes, key {'kept' if key else 'none'})"
            message = f"Re-drove {dl_id} to {source}."
        else:
            detail = f"reason {doc.get('reason', '')}"
            message = f"Discarded {dl_id}."
        event = await ctx.audit(who[0], who[1], action, dl_id, detail, "ok")
        request.app[DONE][dl_id] = Status(action, who[0], str(event["at"]))
    flash(request, message, "ok")
    return redirect(back)


@require_role("admin")
async def redrive(request: web.Request) -> web.StreamResponse:
    return await _act(request, "redrive")


@require_role("admin")
async def discard(request: web.Request) -> web.StreamResponse:
    return await _act(request, "discard")


@require_role("viewer")
async def deadletters_page(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    f = parse_dl_filters(request.query)
    resp = await ctx.search.search(ctx.settings.alias("deadletters"), list_body(f))
    rows, total, facets = parse_list(resp)
    status_error = None
    if rows:
        try:
            found = parse_status(await ctx.search.search(
                ctx.settings.alias("audit"), status_body([r.id for r in rows])))
        except Exception as exc:
            found, status_error = {}, f"audit index unavailable ({type(exc).__name__})"
        found = {**found, **{k: v for k, v in request.app[DONE].items() if k not in found}}
        for r in rows:
            st = found.get(r.id)
            if st is not None:
                r.status, r.status_by, r.status_at = st.action, st.actor, st.at
    pages = max(1, -(-min(total, 10_000) // PAGE_SIZE))
    return aiohttp_jinja2.render_template("deadletters.html", request, {
        "rows": rows, "total": total, "facets": facets, "f": f, "pages": pages,
        "status_error": status_error})


def setup(app: web.Application) -> None:
    from streams.console.context import CTX

    app[READER] = KafkaDeadLetterReader(app[CTX])
    app[DONE] = {}
    app[LOCK] = asyncio.Lock()
    app.router.add_get("/deadletters", deadletters_page)
    app.router.add_post("/deadletters/{id}/redrive", redrive)
    app.router.add_post("/deadletters/{id}/discard", discard)
