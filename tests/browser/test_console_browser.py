"""The console in a real browser against the real stack (no worker needed here).

Each test indexes its own documents (unique ids and brand) into the run's aliases on the
real OpenSearch and reads Kafka with a separate consumer where the console writes.
"""

from __future__ import annotations

import re
import uuid
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

pytestmark = [pytest.mark.timeout(300)]


def uid() -> str:
    return uuid.uuid4().hex[:10]


def open_new_followup(pages: Pages, console: Run, user: str) -> tuple[Any, str]:
    """A follow-up of this test's own (open, version 1), on its page as ``user``: the page
    and the follow-up id."""
    run = uid()
    fid = f"followup:sms:{run}"
    index_followups(console, [followup_doc(fid, f"sms:{run}")])
    page = pages.login(user)
    page.goto("/followups/" + fid)
    return page, fid


def test_log_in_and_out(pages: Pages) -> None:
    page = pages.login("bob")
    assert page.inner_text("[data-testid=user]") == "bob"
    pages.shot(page, "logged-in")
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")
    page.goto("/followups")
    assert "/login" in page.url  # the session is gone


def test_wrong_password_is_refused(pages: Pages, console: Run) -> None:
    ctx = pages.browser.new_context(base_url=console.console_url)
    pages.contexts.append(ctx)
    page = ctx.new_page()
    pages.opened.append(page)
    page.goto("/login")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Wrong username or password.")
    assert page.query_selector("[data-testid=user]") is None


def test_followup_page_shows_an_indexed_followup(pages: Pages, console: Run) -> None:
    run = uid()
    customer = f"cust-{run}"
    fb_id, old_id = f"sms:{run}-now", f"sms:{run}-old"
    fid = f"followup:{fb_id}"
    index_feedback(console, [
        feedback_doc(old_id, customer_id=customer, received_at=now_iso(days=-3),
                     text=f"earlier complaint {run} about billing"),
        feedback_doc(fb_id, customer_id=customer, text="No signal for days!", is_rant=True)])
    overdue_fid = f"followup:sms:{run}-late"
    index_followups(console, [
        followup_doc(fid, fb_id, customer_id=customer, brand=f"brand-{run}",
                     summary=f"Furious <b>{run}</b>"),
        followup_doc(overdue_fid, f"sms:{run}-late", brand=f"brand-{run}", priority="P2",
                     due_by=now_iso(hours=-1), summary=f"Overdue {run}")])
    page = pages.login("bob")
    page.goto(f"/followups?brand=brand-{run}")
    rows = page.locator("table[data-testid=queue] tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-id") == fid  # P1 before P2
    # the countdown is ticking (rendered by console.js from due_by), overdue shown red
    first = rows.nth(0).locator(".countdown")
    page.wait_for_function("el => el.textContent.includes('left')", arg=first.element_handle())
    late = rows.nth(1)
    page.wait_for_function("el => el.classList.contains('overdue')", arg=late.element_handle())
    assert "overdue" in late.locator(".countdown").inner_text()
    assert f"Furious <b>{run}</b>" in rows.nth(0).inner_text()  # markup shown as text
    pages.shot(page, "queue")
    rows.nth(0).locator("a").click()
    page.wait_for_selector("[data-testid=message-text]")
    assert page.inner_text("[data-testid=message-text]") == "No signal for days!"
    assert "churn threat" in page.inner_text("[data-testid=reasons]")
    assert f"earlier complaint {run}" in page.inner_text("[data-testid=earlier]")
    assert page.input_value("[data-testid=reply]") == "I'm so sorry about the outage."
    for action in ("claimed", "contacted", "no_answer", "resolved"):
        assert page.is_visible(f"[data-testid=action-{action}]")
    pages.shot(page, "followup")
    page.goto("/followups/followup:does-not-exist-" + run)
    assert "No follow-up with id" in page.inner_text("[data-testid=error-message]")


def test_viewer_cannot_act(pages: Pages, console: Run) -> None:
    page, fid = open_new_followup(pages, console, "vic")
    page.wait_for_selector("[data-testid=reply-readonly]")
    assert page.query_selector("[data-testid=actions]") is None
    assert page.query_selector("button[name=outcome]") is None
    pages.shot(page, "viewer")
    # a forged POST with the viewer's own valid session and CSRF token is still refused
    resp = page.request.post(f"{console.console_url}/followups/{fid}", form={
        "csrf_token": csrf_of(page), "outcome": "claimed", "action_id": uuid.uuid4().hex,
        "expected_version": "1"})
    assert resp.status == 403 and "needs the agent role" in resp.text()
    assert read_topic(console, console.topic("followup_outcomes"),
                      lambda v: v.get("followup_id") == fid, timeout=4) == []


def test_post_without_csrf_token_is_refused(pages: Pages, console: Run) -> None:
    page, fid = open_new_followup(pages, console, "bob")
    form = {"outcome": "claimed", "action_id": page.get_attribute(
        "input[name=action_id]", "value"), "expected_version": "1"}
    resp = page.request.post(f"{console.console_url}/followups/{fid}", form=form)
    assert resp.status == 403 and "CSRF" in resp.text()
    # and from outside the browser, with no session at all
    r = httpx.post(f"{console.console_url}/followups/{fid}", data=form)
    assert r.status_code == 403
    assert read_topic(console, console.topic("followup_outcomes"),
                      lambda v: v.get("followup_id") == fid, timeout=4) == []


def test_agent_action_goes_to_kafka(pages: Pages, console: Run) -> None:
    """Without a worker the console cannot confirm, but the outcome is on Kafka with the
    contract's fields (read back by a separate consumer), and the action is audited."""
    page, fid = open_new_followup(pages, console, "bob")
    action_id = page.get_attribute("input[name=action_id]", "value")
    page.click("[data-testid=action-claimed]")
    page.wait_for_selector(".flash")
    assert "not confirmed yet" in page.inner_text(".flash")
    [sent] = read_topic(console, console.topic("followup_outcomes"),
                        lambda v: v.get("followup_id") == fid)
    assert sent["outcome"] == "claimed" and sent["agent"] == "bob"
    assert sent["action_id"] == action_id and sent["expected_version"] == 1
    audit = read_topic(console, console.audit_topic,
                       lambda v: v.get("target") == fid and v.get("action") == "claimed")
    assert audit and audit[0]["actor"] == "bob" and audit[0]["result"] == "pending"


def test_search_with_two_facets(pages: Pages, console: Run) -> None:
    run = uid()
    brand = f"brand-{run}"
    word = f"zq{run}"  # a token only this test's documents contain

    def doc(i: int, sentiment: str, emotion: str, topic: str) -> dict[str, Any]:
        return feedback_doc(
            f"sms:{run}-{i}", brand=brand, text=f"the {word} outage hit us again ({i})",
            sentiment={"label": sentiment, "score": -0.8 if sentiment == "negative" else 0.4},
            emotion={"label": emotion, "scores": {emotion: 0.9}},
            topics=[{"name": topic, "confidence": 0.9, "evidence": f"{word} outage"}])

    index_feedback(console, [
        doc(0, "negative", "anger", "network"), doc(1, "negative", "anger", "network"),
        doc(2, "negative", "sadness", "network"), doc(3, "negative", "anger", "billing"),
        doc(4, "positive", "joy", "network"), doc(5, "neutral", "neutral", "billing")])
    page = pages.login("vic")
    page.goto("/explore")
    page.fill("[data-testid=q]", word)
    page.click("form.search button[type=submit]")
    page.wait_for_selector("[data-testid=total]")
    assert page.inner_text("[data-testid=total] strong") == "6"
    page.click("ul[data-facet=sentiment] a[data-value=negative]")
    page.wait_for_url(re.compile(r"sentiment=negative"))
    assert page.inner_text("[data-testid=total] strong") == "4"
    # a facet's own counts ignore its own selection: the other sentiments stay on offer
    positive = page.locator("ul[data-facet=sentiment] a[data-value=positive] span.muted")
    assert positive.inner_text() == "1"
    # counts of the other facets follow the first selection (from aggregations)
    anger = page.locator("ul[data-facet=emotion] a[data-value=anger]")
    assert anger.locator("span.muted").inner_text() == "3"
    anger.click()
    page.wait_for_url(re.compile(r"emotion=anger"))
    assert page.inner_text("[data-testid=total] strong") == "3"
    ids = sorted(page.locator(".hit").evaluate_all("els => els.map(e => e.dataset.id)"))
    assert ids == [f"sms:{run}-0", f"sms:{run}-1", f"sms:{run}-3"]
    assert page.locator(".hit mark").first.inner_text().lower() == word
    active = page.inner_text("[data-testid=active-facets]")
    assert "Sentiment: negative" in active and "Emotion: anger" in active
    pages.shot(page, "explore-two-facets")
    page.locator(".hit a").first.click()
    page.wait_for_selector("[data-testid=topics]")
    assert f"{word} outage" in page.inner_text("[data-testid=topics]")
    pages.shot(page, "message")
