"""Alertmanager webhook (token, payload validation, one audit event per alert), the alert
history parser, and runbook names and rendering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.console.alert_token import alert_token_path
from streams.console.alerts import (
    RUNBOOK_DIRS,
    PayloadError,
    bearer_ok,
    history_body,
    parse_history,
    parse_webhook,
    render_runbook,
    runbook_file,
)
from streams.console.app import create_console_app
from tests.unit.console_fakes import console_settings, fake_context, login, make_client


def _notification(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{alertname=\"VocTopicSpike\"}", "status": "firing",
            "receiver": "console", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
            "truncatedAlerts": 0, "alerts": list(alerts)}


SPIKE = {"status": "firing",
         "labels": {"alertname": "VocTopicSpike", "severity": "warning", "brand": "acme",
                    "subject": "outage"},
         "annotations": {"summary": "outage mentions for acme at over 5x their baseline",
                         "runbook_url": "/runbooks/VocTopicSpike"},
         "startsAt": "2026-12-07T11:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://p/graph", "fingerprint": "abc"}
DOWN_RESOLVED = {"status": "resolved", "labels": {"alertname": "VocWorkerDown",
                                                  "severity": "critical"},
                 "annotations": {}, "startsAt": "2026-12-07T10:00:00Z",
                 "endsAt": "2026-12-07T10:05:00Z"}


def test_parse_webhook_accepts_alertmanager_v4() -> None:
    notices = parse_webhook(_notification(SPIKE, DOWN_RESOLVED))
    assert [(n.name, n.status, n.severity) for n in notices] == [
        ("VocTopicSpike", "firing", "warning"), ("VocWorkerDown", "resolved", "critical")]
    detail = json.loads(notices[0].detail())
    assert detail == {"status": "firing", "severity": "warning", "labels": SPIKE["labels"],
                      "annotations": SPIKE["annotations"], "startsAt": "2026-12-07T11:00:00Z",
                      "endsAt": "0001-01-01T00:00:00Z"}


@pytest.mark.parametrize("payload, message", [
    ([], "JSON object"),
    ({"version": "3", "alerts": [SPIKE]}, "version"),
    ({"alerts": []}, "non-empty"),
    ({"alerts": "x"}, "non-empty"),
    ({"alerts": [1]}, r"alerts\[0\] must be an object"),
    ({"alerts": [{**SPIKE, "status": "pending"}]}, "status"),
    ({"alerts": [{**SPIKE, "labels": {"severity": "warning"}}]}, "alertname"),
    ({"alerts": [{**SPIKE, "labels": {"alertname": "<script>"}}]}, "alertname"),
    ({"alerts": [{**SPIKE, "labels": {"alertname": "X", "n": 1}}]}, "labels"),
    ({"alerts": [{**SPIKE, "annotations": ["x"]}]}, "annotations"),
    ({"alerts": [{**SPIKE, "startsAt": 5}]}, "startsAt"),
])
def test_parse_webhook_rejects_bad_shapes(payload: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_webhook(payload)


def test_bearer_check() -> None:
    assert bearer_ok("Bearer s3cret", "s3cret")
    assert bearer_ok("bearer s3cret", "s3cret")
    assert not bearer_ok("Bearer wrong", "s3cret")
    assert not bearer_ok("Basic s3cret", "s3cret")
    assert not bearer_ok(None, "s3cret")
    assert not bearer_ok("Bearer ", "")  # no token configured: nothing gets in


async def test_webhook_endpoint(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    ctx, _search, pub = fake_context(settings)
    client = await make_client(create_console_app(settings, ctx, secret=b"s" * 32))
    try:
        token = alert_token_path(settings).read_text().strip()  # made at app setup
        assert len(token) == 64
        good = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps(_notification(SPIKE, DOWN_RESOLVED))

        for headers in ({}, {**good, "Authorization": "Bearer nope"}):
            resp = await client.post("/alerts/webhook", data=body, headers=headers)
            assert resp.status == 401
        resp = await client.post("/alerts/webhook", data="{not json", headers=good)
        assert resp.status == 400 and "not JSON" in (await resp.json())["error"]
        resp = await client.post("/alerts/webhook", data=json.dumps({"alerts": []}),
                                 headers=good)
        assert resp.status == 400
        assert pub.values(ctx.audit_topic) == []  # nothing recorded for rejected requests

        resp = await client.post("/alerts/webhook", data=body, headers=good)
        assert resp.status == 200 and (await resp.json()) == {"recorded": 2}
        events = pub.values(ctx.audit_topic)
        assert [(e["actor"], e["action"], e["target"], e["result"]) for e in events] == [
            ("alertmanager", "alert", "VocTopicSpike", "firing"),
            ("alertmanager", "alert", "VocWorkerDown", "resolved")]
        assert json.loads(events[0]["detail"])["labels"]["brand"] == "acme"
        assert [k for _t, k, _v in pub.sent] == [b"VocTopicSpike", b"VocWorkerDown"]
    finally:
        await client.close()


def test_history_body_and_parser() -> None:
    body = history_body(2)
    assert body["from"] == 100 and body["query"]["bool"]["filter"] == [
        {"term": {"action": "alert"}}]
    resp = {"hits": {"total": {"value": 3}, "hits": [
        {"_source": {"at": "2026-12-07T11:00:01Z", "target": "VocTopicSpike",
                     "result": "firing", "detail": json.dumps(
                         {"status": "firing", "severity": "warning", "annotations": {
                             "summary": "s", "runbook_url": "/runbooks/VocTopicSpike"}})}},
        {"_source": {"at": "t", "target": "VocWorkerDown", "result": "resolved",
                     "detail": "not json"}},
    ]}}
    rows, total = parse_history(resp)
    assert total == 3
    assert (rows[0].name, rows[0].status, rows[0].severity, rows[0].summary, rows[0].runbook) == (
        "VocTopicSpike", "firing", "warning", "s", "/runbooks/VocTopicSpike")
    assert (rows[1].status, rows[1].runbook) == ("resolved", "/runbooks/VocWorkerDown")


@pytest.mark.parametrize("name", ["../README", "..", "", "a.b", "VocWorkerDown.md",
                                  "x/y", "%2e%2e", "Voc Worker", "VocWorkerDown\n"])
def test_runbook_names_are_validated(name: str, tmp_path: Path) -> None:
    (tmp_path / "VocWorkerDown\n.md").write_text("# trailing newline in the name\n")
    assert runbook_file(name) is None
    assert runbook_file(name, (tmp_path,)) is None


def test_runbooks_resolve_from_the_repo_and_render_safely(tmp_path: Path) -> None:
    assert runbook_file("VocTopicSpike") == RUNBOOK_DIRS[0] / "VocTopicSpike.md"
    (tmp_path / "Only.md").write_text("# Only\n")
    assert runbook_file("Only", (tmp_path / "missing", tmp_path)) == tmp_path / "Only.md"
    html = render_runbook("# T\n\n<script>alert(1)</script>\n\nsee [X](VocSearchDown.md)\n")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="/runbooks/VocSearchDown"' in html


async def test_runbook_page_and_alerts_page(tmp_path: Path) -> None:
    settings = console_settings(tmp_path, alertmanager_url="http://127.0.0.1:1")
    ctx, _search, _pub = fake_context(settings)
    client = await make_client(create_console_app(settings, ctx, secret=b"s" * 32))
    try:
        resp = await client.get("/runbooks/VocTopicSpike", allow_redirects=False)
        assert resp.status == 303  # login first
        await login(client, "vic")
        resp = await client.get("/runbooks/VocTopicSpike")
        html = await resp.text()
        assert resp.status == 200 and "<h1>VocTopicSpike" in html
        assert (await client.get("/runbooks/Nope")).status == 404
        assert (await client.get("/runbooks/..%2F..%2Fpyproject")).status == 404
        index = await (await client.get("/runbooks")).text()
        assert 'href="/runbooks/VocWorkerDown"' in index
        page = await client.get("/alerts")
        text = await page.text()
        assert page.status == 200
        assert "Alertmanager unavailable" in text and "no alert notifications yet" in text
    finally:
        await client.close()
