"""Dead letters page: facet and status request builders and parsers, and the admin's
re-drive / discard (original bytes and key to the source topic, audited, once only)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from streams.console.app import create_console_app
from streams.console.deadletters import (
    READER,
    DeadLetterGone,
    list_body,
    original_of,
    parse_dl_filters,
    parse_list,
    parse_status,
    status_body,
)
from tests.unit.console_fakes import console_settings, fake_context, login, make_client

DL_DOC = {"id": "2:41", "source_topic": "voc.sms.inbound", "partition": 1, "offset": 7,
          "key": None, "reason": "invalid_json", "error": "line 1: Expecting value",
          "preview": "my bill is wrong [PHONE]", "size_bytes": 31,
          "failed_at": "2026-12-07T11:00:00Z", "dl_partition": 2, "dl_offset": 41}
ORIGINAL = b'{"id": "m1", "text": "my bill is wrong +447700900123"'


class FakeReader:
    def __init__(self, value: dict[str, Any] | None) -> None:
        self.value = value
        self.reads: list[tuple[str, int, int]] = []

    async def read(self, topic: str, partition: int, offset: int) -> dict[str, Any]:
        self.reads.append((topic, partition, offset))
        if self.value is None:
            raise DeadLetterGone(f"{topic}[{partition}]@{offset} is gone")
        return self.value


def test_filters_and_list_body_facets_ignore_their_own_filter() -> None:
    f = parse_dl_filters({"reason": "invalid_json", "source": "voc.sms.inbound", "page": "3"})
    body = list_body(f)
    assert body["from"] == 75 and body["size"] == 25
    assert body["post_filter"]["bool"]["filter"] == [
        {"term": {"reason": "invalid_json"}}, {"term": {"source_topic": "voc.sms.inbound"}}]
    # the reason facet is narrowed by the source only, and the other way round
    assert body["aggs"]["reasons"]["filter"] == {"term": {"source_topic": "voc.sms.inbound"}}
    assert body["aggs"]["sources"]["filter"] == {"term": {"reason": "invalid_json"}}
    assert "original_b64" not in body["_source"]
    bad = parse_dl_filters({"reason": "x y<z>", "page": "-4"})
    assert (bad.reason, bad.page) == (None, 0)
    assert list_body(bad)["aggs"]["reasons"] == {"terms": {"field": "reason", "size": 30}}


def test_parse_list_and_status() -> None:
    resp = {"hits": {"total": {"value": 1}, "hits": [{"_id": "2:41", "_source": DL_DOC}]},
            "aggregations": {"reasons": {"buckets": [{"key": "invalid_json", "doc_count": 1}]},
                             "sources": {"doc_count": 1, "values": {"buckets": [
                                 {"key": "voc.sms.inbound", "doc_count": 1}]}}}}
    rows, total, facets = parse_list(resp)
    assert total == 1 and rows[0].id == "2:41" and rows[0].status == "parked"
    assert facets == {"reason": [("invalid_json", 1)], "source": [("voc.sms.inbound", 1)]}
    body = status_body(["2:41", "0:1"])
    assert {"terms": {"target": ["2:41", "0:1"]}} in body["query"]["bool"]["filter"]
    assert {"term": {"result": "ok"}} in body["query"]["bool"]["filter"]
    st = parse_status(_audit_says("2:41", "discard", "ada"))
    assert st["2:41"].action == "discard" and st["2:41"].actor == "ada"


def _audit_says(dl_id: str, action: str, actor: str) -> dict[str, Any]:
    return {"aggregations": {"by_target": {"buckets": [{"key": dl_id, "doc_count": 1, "latest": {
        "hits": {"hits": [{"_source": {"action": action, "actor": actor,
                                       "at": "2026-12-07T11:05:00Z"}}]}}}]}}}


def test_original_of_restores_bytes_and_keeps_only_real_keys() -> None:
    b64 = base64.b64encode(ORIGINAL).decode()
    assert original_of({"original_b64": b64, "key": "cust-1"}) == (ORIGINAL, b"cust-1")
    assert original_of({"original_b64": b64, "key": "[REDACTED]"}) == (ORIGINAL, None)
    assert original_of({"original_b64": b64, "key": None}) == (ORIGINAL, None)
    with pytest.raises(DeadLetterGone):
        original_of({"original_b64": "", "key": None})
    with pytest.raises(DeadLetterGone):
        original_of({"original_b64": "***", "key": None})


async def _client(tmp_path: Path, reader: FakeReader) -> tuple[Any, Any, Any, Any]:
    settings = console_settings(tmp_path)
    ctx, search, pub = fake_context(settings)
    search.put(settings.alias("deadletters"), DL_DOC)
    app = create_console_app(settings, ctx, secret=b"s" * 32)
    app[READER] = reader
    return await make_client(app), ctx, search, pub


async def test_admin_redrives_once_and_the_second_is_refused(tmp_path: Path) -> None:
    value = {"source_topic": "voc.sms.inbound", "key": "cust-9",
             "original_b64": base64.b64encode(ORIGINAL).decode()}
    reader = FakeReader(value)
    client, ctx, _search, pub = await _client(tmp_path, reader)
    try:
        csrf = await login(client, "ada")
        page = await (await client.get("/deadletters")).text()
        assert "my bill is wrong [PHONE]" in page and "+4477" not in page
        assert 'action="/deadletters/2:41/redrive"' in page
        resp = await client.post("/deadletters/2:41/redrive", data={"csrf_token": csrf})
        html = await resp.text()
        assert "Re-drove 2:41 to voc.sms.inbound" in html
        assert reader.reads == [("voc.deadletter", 2, 41)]
        sent = [(t, k, v) for t, k, v in pub.sent if t == "voc.sms.inbound"]
        assert sent == [("voc.sms.inbound", b"cust-9", ORIGINAL)]
        audit = [e for e in pub.values(ctx.audit_topic) if e["action"] == "redrive"]
        assert [(e["actor"], e["target"], e["result"]) for e in audit] == [("ada", "2:41", "ok")]
        assert 'data-testid="dl-status">re-driven' in html

        resp = await client.post("/deadletters/2:41/redrive", data={"csrf_token": csrf})
        html = await resp.text()
        assert "was already re-driven by ada" in html
        assert len([1 for t, _k, _v in pub.sent if t == "voc.sms.inbound"]) == 1
        resp = await client.post("/deadletters/2:41/discard", data={"csrf_token": csrf})
        assert "was already re-driven" in await resp.text()
    finally:
        await client.close()


async def test_refused_when_the_audit_index_already_shows_it(tmp_path: Path) -> None:
    reader = FakeReader({"original_b64": base64.b64encode(ORIGINAL).decode()})
    client, ctx, search, pub = await _client(tmp_path, reader)
    search.responses[ctx.settings.alias("audit")] = _audit_says("2:41", "discard", "eve")
    try:
        csrf = await login(client, "ada")
        resp = await client.post("/deadletters/2:41/redrive", data={"csrf_token": csrf})
        assert "was already discarded by eve" in await resp.text()
        assert reader.reads == [] and [t for t, _k, _v in pub.sent
                                       if not t.endswith("audit")] == []
    finally:
        await client.close()


async def test_discard_unknown_gone_and_bad_ids(tmp_path: Path) -> None:
    reader = FakeReader(None)
    client, ctx, _search, pub = await _client(tmp_path, reader)
    try:
        csrf = await login(client, "ada")
        resp = await client.post("/deadletters/2:41/redrive", data={"csrf_token": csrf})
        assert "Re-drive of 2:41 failed" in await resp.text()
        failed = [e for e in pub.values(ctx.audit_topic) if e["action"] == "redrive"]
        assert [e["result"] for e in failed] == ["failed"]
        assert (await client.post("/deadletters/9:9/discard",
                                  data={"csrf_token": csrf})).status == 404
        assert (await client.post("/deadletters/x;y/discard",
                                  data={"csrf_token": csrf})).status == 400
        resp = await client.post("/deadletters/2:41/discard", data={"csrf_token": csrf})
        assert "Discarded 2:41." in await resp.text()
        assert [e["result"] for e in pub.values(ctx.audit_topic)
                if e["action"] == "discard"] == ["ok"]
    finally:
        await client.close()


@pytest.mark.parametrize("user", ["vic", "bob"])
async def test_only_admins_act_and_csrf_is_required(tmp_path: Path, user: str) -> None:
    client, ctx, _search, pub = await _client(tmp_path, FakeReader(None))
    try:
        csrf = await login(client, user)
        page = await (await client.get("/deadletters")).text()
        assert "/redrive" not in page  # no buttons for non-admins
        resp = await client.post("/deadletters/2:41/redrive", data={"csrf_token": csrf})
        assert resp.status == 403
        await client.post("/logout", data={"csrf_token": csrf})
        await login(client, "ada")
        resp = await client.post("/deadletters/2:41/discard", data={})
        assert resp.status == 403
        assert [e for e in pub.values(ctx.audit_topic)
                if e["action"] in ("redrive", "discard")] == []
        assert json.dumps(pub.sent, default=str).count("voc.sms.inbound") == 0
    finally:
        await client.close()


HMAC = "ab" * 32
NOT_KEPT_DOC = {**DL_DOC, "original_kept": False, "original_hmac": HMAC, "size_bytes": 31}


def test_hash_filter_lists_every_dead_letter_of_the_same_original() -> None:
    f = parse_dl_filters({"hash": HMAC.upper()})
    assert f.hash == HMAC
    assert {"term": {"original_hmac": HMAC}} in list_body(f)["post_filter"]["bool"]["filter"]
    assert parse_dl_filters({"hash": "not-a-hash"}).hash is None
    assert {"original_kept", "original_hmac"} <= set(list_body(f)["_source"])
    with pytest.raises(DeadLetterGone, match="not kept"):
        original_of({"original_b64": "", "original_kept": False})


async def test_a_dead_letter_without_its_original_says_so_and_cannot_be_redriven(
    tmp_path: Path,
) -> None:
    settings = console_settings(tmp_path)
    ctx, search, pub = fake_context(settings)
    search.put(settings.alias("deadletters"), NOT_KEPT_DOC)
    app = create_console_app(settings, ctx, secret=b"s" * 32)
    reader = FakeReader({"original_b64": "", "original_kept": False})
    app[READER] = reader
    client = await make_client(app)
    try:
        csrf = await login(client, "ada")
        page = await (await client.get("/deadletters")).text()
        assert "not kept: re-drive impossible" in page
        assert 'action="/deadletters/2:41/redrive"' not in page
        assert 'action="/deadletters/2:41/discard"' in page
        assert f"/deadletters?hash={HMAC}" in page and "VOC_DEADLETTER_KEEP_ORIGINAL" in page
        resp = await client.post("/deadletters/2:41/redrive", data={"csrf_token": csrf})
        html = await resp.text()
        assert "Re-drive of 2:41 is not possible: the original was not kept" in html
        assert reader.reads == [] and [t for t, _k, _v in pub.sent
                                       if not t.endswith("audit")] == []
        audit = [e for e in pub.values(ctx.audit_topic) if e["action"] == "redrive"]
        assert [e["result"] for e in audit] == ["refused"]
        # still parked: it can be discarded
        resp = await client.post("/deadletters/2:41/discard", data={"csrf_token": csrf})
        assert "Discarded 2:41." in await resp.text()
    finally:
        await client.close()
