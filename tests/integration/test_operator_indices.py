"""The console's indices on the real OpenSearch: templates, monthly layout, external versions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from schemas.indices import AUDIT, DEADLETTERS, FOLLOWUPS, INDICES, IndexDef
from streams.search import make_backend
from streams.settings import Settings


async def backend_for(live_stack: Settings, index: IndexDef) -> Any:
    alias = f"t-{uuid.uuid4().hex[:8]}-{index.default_alias}"
    backend = make_backend(live_stack, index=index, alias=alias)
    await backend.ensure_index()
    return backend


@pytest.mark.parametrize("index", INDICES, ids=lambda i: i.logical)
async def test_every_index_template_installs(live_stack: Settings, index: IndexDef) -> None:
    backend = await backend_for(live_stack, index)
    try:
        assert await backend.count() == 0
    finally:
        await backend.drop()
        await backend.close()


async def test_an_older_followup_state_never_overwrites_a_newer_one(live_stack: Settings) -> None:
    backend = await backend_for(live_stack, FOLLOWUPS)
    try:
        doc = {"id": "followup:sms:1", "received_at": "2026-11-30T10:00:00Z", "seq": 3,
               "version": 2, "state": "claimed", "assignee": "ana"}
        assert [r.ok for r in await backend.bulk_index([doc])] == [True]
        stale = await backend.bulk_index([{**doc, "seq": 2, "state": "open", "assignee": None}])
        assert stale[0].ok and stale[0].status == 409  # counted as done, not retried forever
        await backend.refresh()
        hits = (await backend._read({"query": {"term": {"id": "followup:sms:1"}}}))["hits"]
        assert hits["hits"][0]["_source"]["state"] == "claimed"
        assert hits["hits"][0]["_index"].endswith("-2026.11")  # month from received_at
    finally:
        await backend.drop()
        await backend.close()


@pytest.mark.parametrize(("index", "field"), [(DEADLETTERS, "failed_at"), (AUDIT, "at")])
async def test_month_comes_from_the_documents_own_time(
    live_stack: Settings, index: IndexDef, field: str
) -> None:
    backend = await backend_for(live_stack, index)
    try:
        doc = {"id": "x1", field: "2025-03-04T05:06:07Z"}
        result = (await backend.bulk_index([doc]))[0]
        assert result.ok and result.index is not None and result.index.endswith("-2025.03")
    finally:
        await backend.drop()
        await backend.close()
