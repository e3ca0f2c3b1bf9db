"""End to end through the worker: Kafka -> worker -> indices -> console -> Kafka -> worker.

A real ``voc worker`` subprocess runs on the session's own topics and aliases (the same
names the console uses, see conftest.py). The tests produce to Kafka exactly what the
outside world would, and read the results where the outside world would: the console in
a browser, ``voc.followups.outcomes`` with a separate consumer, the worker's ``/metrics``.

These need the worker side of console-spec.md (the follow-up state agent indexing
``voc-followups`` with version/history, the dead-letter indexer): against a worker
without it they fail (loudly) waiting for the rant or the dead letter to appear.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from streams.cli.pipeline_cmd import http_json
from tests.browser.conftest import REPO, Pages, Run, read_topic
from tests.support.live import metric_sum, voc_process, wait_until

pytestmark = [pytest.mark.timeout(900)]

RANT = ("This is the THIRD time you have charged me twice for the same order. I am furious, "
        "cancel my contract today or I am going to the ombudsman!")


@pytest.fixture(scope="module")
def worker(console: Run) -> Iterator[str]:
    """``voc worker`` on the session's names; its base URL. Stopped after the module."""
    log_path = console.workdir / "worker.log"
    env = {**os.environ, **console.env,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    base = console.env["VOC_CONSOLE__WORKER_URL"]
    with voc_process("worker", env, log_path, lambda: http_json(base + "/health")[0] == 200,
                     timeout=300, every=1.0, cwd=REPO):
        yield base


def produce(world: Run, topic: str, key: bytes | None, value: bytes) -> None:
    from kafka import KafkaProducer

    from streams.replay import producer_config

    producer = KafkaProducer(**producer_config(world.settings))
    try:
        producer.send(topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


def sms(mid: str, brand: str, customer: str, body: str) -> bytes:
    return json.dumps({"message_id": mid, "from": "+447700900123", "to": "+447700900000",
                       "body": body, "received_at": datetime.now(UTC).isoformat(),
                       "brand": brand, "customer_id": customer}).encode()


def metrics(worker: str) -> str:
    status, text = http_json(worker + "/metrics")
    assert status == 200
    return str(text)


def wait_in_queue(page: Any, brand: str, fid: str, timeout: float = 240) -> None:
    """Reload the queue (filtered to the test's brand) until the follow-up is listed."""
    def listed() -> bool:
        page.goto(f"/followups?brand={brand}")
        return page.locator(f"tr[data-id='{fid}']").count() == 1

    wait_until(listed, timeout, f"{fid} in the follow-up queue", every=2.0)


def test_rant_from_kafka_to_resolved(worker: str, pages: Pages, console: Run) -> None:
    run = uuid.uuid4().hex[:10]
    brand, customer, mid = f"e2e-{run}", f"cust-{run}", f"{run}-rant"
    fid = f"followup:sms:{mid}"
    open_before = metric_sum(metrics(worker), "voc_followups_open")

    # 1. a customer rants: the SMS gateway's record lands on the inbound topic
    produce(console, console.topic("sms_inbound"), b"+447700900123",
            sms(mid, brand, customer, RANT))

    # 2. the worker opens a follow-up; the operator sees it in the queue
    page = pages.login("bob")
    wait_in_queue(page, brand, fid)
    wait_until(lambda: metric_sum(metrics(worker), "voc_followups_open") == open_before + 1,
               60, "voc_followups_open to go up by one")
    pages.shot(page, "queue")
    page.click(f"tr[data-id='{fid}'] a")
    page.wait_for_selector("[data-testid=message-text]")
    assert "charged me twice" in page.inner_text("[data-testid=message-text]")
    assert page.input_value("[data-testid=reply]").strip()  # a suggested reply to start from

    # 3. claim, then edit the reply and resolve with a note
    page.click("[data-testid=action-claimed]")
    page.wait_for_selector(".flash")
    assert "claimed: now claimed" in page.inner_text(".flash")
    edited = f"Hello, I am so sorry we charged you twice. The refund is on its way. ({run})"
    page.fill("[data-testid=reply]", edited)
    page.fill("[data-testid=note]", "Called back; refunded the <b>double</b> charge.")
    pages.shot(page, "before-resolve")
    page.click("[data-testid=action-resolved]")
    page.wait_for_selector(".flash")
    assert "resolved: now closed" in page.inner_text(".flash")
    assert page.inner_text("[data-testid=state]") == "closed"
    assert page.query_selector("[data-testid=actions]") is None
    assert "Called back; refunded the <b>double</b> charge." in page.inner_text(
        "[data-testid=history]")  # markup shown as text
    pages.shot(page, "resolved")

    # 4. the outcome is on Kafka, read back with a separate consumer
    found = read_topic(console, console.topic("followup_outcomes"),
                       lambda v: v.get("followup_id") == fid and v.get("outcome") == "resolved")
    assert len(found) == 1
    assert edited in found[0]["note"] and found[0]["agent"] == "bob"
    assert found[0]["expected_version"] == 2

    # 5. the worker's follow-up metrics moved: the case is no longer open
    wait_until(lambda: metric_sum(metrics(worker), "voc_followups_open") == open_before,
               60, "voc_followups_open back to where it was")


def test_two_operators_get_a_conflict_not_a_double_outcome(worker: str, pages: Pages,
                                                           console: Run) -> None:
    run = uuid.uuid4().hex[:10]
    brand, mid = f"e2e-{run}", f"{run}-race"
    fid = f"followup:sms:{mid}"
    produce(console, console.topic("sms_inbound"), b"+447700900123",
            sms(mid, brand, f"cust-{run}", RANT))
    bob = pages.login("bob")
    wait_in_queue(bob, brand, fid)
    bob.goto("/followups/" + fid)
    ada = pages.login("ada")
    ada.goto("/followups/" + fid)
    # both look at version 1; ada claims first
    ada.click("[data-testid=action-claimed]")
    ada.wait_for_selector(".flash")
    assert "claimed: now claimed" in ada.inner_text(".flash")
    bob.click("[data-testid=action-claimed]")
    bob.wait_for_selector(".flash")
    assert "conflict: ada already claimed" in bob.inner_text(".flash")
    pages.shot(bob, "conflict")
    claims = read_topic(console, console.topic("followup_outcomes"),
                        lambda v: v.get("followup_id") == fid)
    assert [c["agent"] for c in claims] == ["ada"]  # bob's was never sent


def test_redrive_a_dead_letter_and_see_it_indexed(worker: str, pages: Pages,
                                                  console: Run) -> None:
    """A record parked on the dead-letter topic (its cause since fixed) is re-driven by an
    admin to its source topic, processed by the worker and indexed."""
    run = uuid.uuid4().hex[:10]
    mid = f"{run}-parked"
    original = sms(mid, f"e2e-{run}", f"cust-{run}", f"My bill doubled again ({run})")
    dead = {"schema_version": 1, "source_topic": console.topic("sms_inbound"),
            "partition": 0, "offset": 0, "key": "+447700900123", "reason": "enrich_failed",
            "error": f"model unavailable ({run})",
            "original_b64": base64.b64encode(original).decode(),
            "failed_at": datetime.now(UTC).isoformat()}
    produce(console, console.topic("deadletter"), b"+447700900123", json.dumps(dead).encode())
    page = pages.login("ada")

    def parked_row() -> Any:
        page.goto("/deadletters?reason=enrich_failed")
        row = page.locator("tr[data-dl-id]", has_text=run)
        return row if row.count() == 1 else None

    row = wait_until(parked_row, 240, "the dead letter on the dead-letters page", every=2.0)
    assert "parked" in row.locator("[data-testid=dl-status]").inner_text()
    pages.shot(page, "parked")
    row.locator("form[action$='/redrive'] button").click()
    page.wait_for_selector(".flash")
    url = f"{console.search_url}/{console.settings.search_alias}/_search"

    def indexed() -> bool:
        r = httpx.post(url, json={"query": {"ids": {"values": [f"sms:{mid}"]}}}, timeout=10)
        return r.status_code == 200 and r.json()["hits"]["total"]["value"] == 1

    wait_until(indexed, 120, f"sms:{mid} indexed after the re-drive", every=2.0)
    row = wait_until(parked_row, 60, "the dead letter row after re-drive", every=2.0)
    assert "re-driven" in row.locator("[data-testid=dl-status]").inner_text()
    pages.shot(page, "redriven")
