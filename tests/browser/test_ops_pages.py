"""Operations pages in a real browser against the real stack: the overview's numbers and
chart, a dead letter re-driven from Kafka to its source topic (once), the alert webhook
and history, and the runbooks.

Documents carry a brand unique to the test, in the run's own aliases; Kafka records go to
the run's own topics (tests/browser/conftest.py), so nothing here touches shared data.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import (
    Pages,
    Run,
    csrf_of,
    feedback_doc,
    followup_doc,
    index_feedback,
    index_followups,
    now_iso,
    read_topic,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from console_data import DEADLETTERS_MAPPINGS  # noqa: E402

pytestmark = [pytest.mark.timeout(300)]


def uid() -> str:
    return uuid.uuid4().hex[:10]


def test_overview_shows_this_brands_numbers_chart_and_sla(pages: Pages, console: Run) -> None:
    brand = f"ops-{uid()}"
    docs = [
        feedback_doc(f"sms:{brand}-1", brand=brand, received_at=now_iso(minutes=-10),
                     sentiment={"label": "negative", "score": -0.8}, is_rant=True,
                     emotion={"label": "anger", "scores": {"anger": 0.9}},
                     topics=[{"name": "outage", "confidence": 0.9, "evidence": "no signal"}]),
        feedback_doc(f"sms:{brand}-2", brand=brand, received_at=now_iso(minutes=-20),
                     sentiment={"label": "positive", "score": 0.7},
                     topics=[{"name": "staff", "confidence": 0.9, "evidence": "kind"}]),
        feedback_doc(f"survey:{brand}-3", brand=brand, channel="survey",
                     received_at=now_iso(minutes=-30), survey={"kind": "nps", "score": 8}),
        feedback_doc(f"survey:{brand}-4", brand=brand, channel="survey",
                     received_at=now_iso(minutes=-40), survey={"kind": "nps", "score": 5}),
    ]
    index_feedback(console, docs)
    index_followups(console, [
        followup_doc(f"followup:{brand}-1", f"sms:{brand}-1", brand=brand,
                     due_by=now_iso(minutes=-3)),
        followup_doc(f"followup:{brand}-9", f"sms:{brand}-9", brand=brand,
                     due_by=now_iso(minutes=30)),
    ])
    page = pages.login("vic")
    page.goto(f"/?period=1h&brand={brand}")
    assert page.inner_text("[data-testid=volume]") == "4"
    assert page.inner_text("[data-testid=rant-rate]") == "25.0%"
    assert page.inner_text("[data-testid=nps]") == "6.5"
    chart = page.locator("[data-testid=sentiment-chart]")
    assert chart.locator("rect.bar-negative").count() == 1
    assert chart.locator("rect.bar-positive").count() == 1
    topics = page.inner_text("[data-testid=topics]")
    assert "outage" in topics and "staff" in topics
    sla = page.locator("[data-testid=sla] tbody tr").first.inner_text().split()
    assert sla == ["open", "1", "1", "0"]
    # pipeline health comes from the live Prometheus: a number or "no data", never an error
    for key in ("throughput", "lag", "e2e_p99", "deadletter_rate"):
        assert page.locator(f"[data-testid=health-{key}]").count() == 1
    assert page.locator("select[name=brand] option:checked").inner_text() == brand
    pages.shot(page, "overview")


def _park_a_dead_letter(world: Run, original: bytes) -> tuple[str, dict[str, Any]]:
    """A record on the run's dead-letter topic as the worker writes it, and its index doc
    (the worker's dead-letter indexer is not part of this test)."""
    from kafka import KafkaProducer

    from streams.topics import kafka_client_kwargs

    source = world.topic("sms_inbound")
    value = {"schema_version": 1, "source_topic": source, "partition": 0, "offset": 17,
             "key": "cust-key-1", "reason": "invalid_json", "error": "Expecting value",
             "original_b64": base64.b64encode(original).decode(),
             "failed_at": datetime.now(UTC).isoformat()}
    producer = KafkaProducer(**kafka_client_kwargs(world.settings))
    try:
        meta = producer.send(world.topic("deadletter"), key=source.encode(),
                             value=json.dumps(value).encode()).get(timeout=20)
    finally:
        producer.close()
    dl_id = f"{meta.partition}:{meta.offset}"
    doc = {"id": dl_id, **{k: value[k] for k in ("source_topic", "partition", "offset", "key",
                                                  "reason", "error", "failed_at")},
           "preview": "my bill is wrong, call me on [PHONE]", "size_bytes": len(original),
           "dl_partition": meta.partition, "dl_offset": meta.offset}
    alias = world.settings.alias("deadletters")
    with httpx.Client(base_url=world.search_url, timeout=30) as http:
        index = f"{alias}-browser"
        if http.head(f"/{index}").status_code == 404:
            r = http.put(f"/{index}", json={"settings": {"number_of_replicas": 0},
                                            "mappings": DEADLETTERS_MAPPINGS,
                                            "aliases": {alias: {}}})
            assert r.status_code in (200, 400), r.text
        r = http.put(f"/{index}/_doc/{dl_id}?refresh=true", json=doc)
        assert r.status_code in (200, 201), r.text
    return dl_id, doc


def test_admin_redrives_a_dead_letter_once(pages: Pages, console: Run) -> None:
    marker = uid()
    original = json.dumps({"message_id": f"m-{marker}", "from": "+447700900123",
                           "body": "my bill is wrong", "received_at": now_iso(),
                           "brand": "acme"}).encode()
    dl_id, _doc = _park_a_dead_letter(console, original)

    viewer = pages.login("vic")
    viewer.goto("/deadletters")
    row = viewer.locator(f"tr[data-dl-id='{dl_id}']")
    assert "[PHONE]" in row.inner_text() and "+4477" not in viewer.content()
    assert row.locator("button").count() == 0  # viewers see, never act

    page = pages.login("ada")
    page.goto("/deadletters?reason=invalid_json")
    row = page.locator(f"tr[data-dl-id='{dl_id}']")
    assert row.locator("[data-testid=dl-status]").inner_text().startswith("parked")
    pages.shot(page, "before-redrive")
    row.locator("button", has_text="Re-drive").click()
    page.wait_for_selector(f"text=Re-drove {dl_id}")
    assert page.locator(f"tr[data-dl-id='{dl_id}'] [data-testid=dl-status]").inner_text() \
        .startswith("re-driven")
    pages.shot(page, "after-redrive")

    # the original bytes and key are back on the source topic, read by a separate consumer
    back = read_topic(console, console.topic("sms_inbound"),
                      lambda v: v.get("message_id") == f"m-{marker}")
    assert back and back[0]["body"] == "my bill is wrong"
    audit = read_topic(console, console.audit_topic,
                       lambda v: v.get("target") == dl_id and v.get("action") == "redrive")
    assert [(a["actor"], a["result"]) for a in audit] == [("ada", "ok")]

    # a second re-drive (a stale tab, a replayed form) is refused with a clear message
    resp = page.request.post(f"/deadletters/{dl_id}/redrive",
                             form={"csrf_token": csrf_of(page)})
    assert resp.status == 200 and "already re-driven by ada" in resp.text()
    again = read_topic(console, console.topic("sms_inbound"),
                       lambda v: v.get("message_id") == f"m-{marker}", timeout=5)
    assert len(again) == 1


def test_alert_webhook_needs_the_token_and_is_audited(pages: Pages, console: Run) -> None:
    url = console.console_url + "/alerts/webhook"
    name = f"VocTest{uid()}"
    payload = {"version": "4", "status": "firing", "receiver": "console", "alerts": [{
        "status": "firing", "labels": {"alertname": name, "severity": "warning"},
        "annotations": {"summary": "browser test"}, "startsAt": now_iso(),
        "endsAt": "0001-01-01T00:00:00Z"}]}
    assert httpx.post(url, json=payload, timeout=10).status_code == 401
    token_file = Path(console.env["VOC_CONSOLE__ALERT_TOKEN_FILE"])
    token = token_file.read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(url, content=b"{oops", headers=auth, timeout=10).status_code == 400
    resp = httpx.post(url, json=payload, headers=auth, timeout=10)
    assert resp.status_code == 200 and resp.json() == {"recorded": 1}
    events = read_topic(console, console.audit_topic, lambda v: v.get("target") == name)
    assert [(e["actor"], e["action"], e["result"]) for e in events] == [
        ("alertmanager", "alert", "firing")]

    page = pages.login("vic")
    page.goto("/alerts")
    # firing now comes from the live Alertmanager: a table or "none", never an error page
    assert page.locator("[data-testid=firing], [data-testid=no-alerts]").count() == 1
    pages.shot(page, "alerts")


def test_runbooks_are_served_and_linked(pages: Pages, console: Run) -> None:
    page = pages.login("vic")
    page.goto("/runbooks")
    page.click("a[href='/runbooks/VocTopicSpike']")
    page.wait_for_url("**/runbooks/VocTopicSpike")
    heading = page.inner_text("[data-testid=runbook] h1")
    assert heading.startswith("VocTopicSpike")
    assert re.search(r"What it means.*How to check.*What to do",
                     page.inner_text("[data-testid=runbook]"), re.S)
    page.click("[data-testid=runbook] a[href='/runbooks/VocRantSpike']")
    page.wait_for_url("**/runbooks/VocRantSpike")
    assert page.goto("/runbooks/..%2Fsecret").status == 404
    pages.shot(page, "runbook")
