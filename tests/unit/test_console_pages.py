"""Queue, follow-up actions and Explore pages over in-memory seams.

A small fake of the worker's follow-up state agent applies published outcomes to the
follow-up document exactly as console-spec.md describes, so the console's publish-then-poll
logic is exercised end to end here; the real worker is covered by the browser e2e tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from streams.console.app import create_console_app
from tests.unit.console_fakes import (
    FakePublisher,
    FakeSearch,
    console_settings,
    csrf_from,
    fake_context,
    login,
    make_client,
)

FID = "followup:fb-1"
OUTCOMES = "voc.followups.outcomes"


def followup_doc(**kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": FID, "feedback_id": "fb-1", "customer_id": "cust-9", "brand": "acme",
        "channel": "sms", "priority": "P1", "created_at": "2026-12-07T10:00:00+00:00",
        "due_by": "2026-12-07T14:00:00+00:00", "received_at": "2026-12-07T09:59:00+00:00",
        "reasons": ["churn threat"], "summary": "Angry about <b>outage</b>",
        "suggested_reply": "We are sorry about the outage.", "text": "No signal for 3 days!!",
        "language": "en", "sentiment": "negative", "emotion": "anger",
        "urgency": {"level": "critical", "score": 0.93, "reasons": ["says 'cancel'"]},
        "topics": [{"name": "network", "evidence": "No signal"}], "state": "open",
        "last_outcome": None, "assignee": None, "breached": False, "version": 1,
        "history": [], "updated_at": "2026-12-07T10:00:00+00:00"}
    doc.update(kw)
    return doc


def feedback_doc(fid: str, **kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": fid, "channel": "sms", "brand": "acme", "customer_id": "cust-9",
        "received_at": "2026-12-01T09:00:00+00:00", "enriched_at": "2026-12-01T09:00:01+00:00",
        "text": "earlier message", "language": "en",
        "sentiment": {"label": "negative", "score": -0.7},
        "emotion": {"label": "anger", "scores": {"anger": 0.8, "neutral": 0.2}},
        "topics": [{"name": "billing", "confidence": 0.9, "evidence": "double charged"}],
        "urgency": {"level": "high", "score": 0.7, "reasons": ["repeat contact"]},
        "is_rant": True, "pii": {"redacted": True, "kinds": ["phone"]},
        "model": {"encoder": "minilm", "version": "1"}}
    doc.update(kw)
    return doc


class FakeWorker:
    """The follow-up state agent's rules from console-spec.md, on the fake index."""

    def __init__(self, search: FakeSearch, alias: str) -> None:
        self.search, self.alias = search, alias
        self.before_apply: list[dict[str, Any]] = []  # outcomes that win a race first

    def apply(self, o: dict[str, Any]) -> None:
        doc = self.search.docs[self.alias].get(o["followup_id"])
        if doc is None or any(h["action_id"] == o["action_id"] for h in doc["history"]):
            return
        if doc["state"] == "closed":
            return
        if o.get("expected_version") is not None and o["expected_version"] != doc["version"]:
            return
        doc["version"] += 1
        doc["history"].append({k: o[k] for k in ("action_id", "outcome", "agent", "at", "note")})
        doc["last_outcome"] = o["outcome"]
        if o["outcome"] == "claimed":
            doc["assignee"], doc["state"] = o["agent"], "claimed"
        elif o["outcome"] in ("resolved", "closed"):
            doc["state"] = "closed"
        elif doc["assignee"] is None:
            doc["assignee"] = o["agent"]

    async def __call__(self, topic: str, key: bytes | None, value: bytes) -> None:
        if topic != OUTCOMES:
            return
        for other in self.before_apply:
            self.apply(other)
        self.before_apply = []
        self.apply(json.loads(value))


@pytest.fixture
async def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = console_settings(tmp_path)
    ctx, search, pub = fake_context(settings)
    worker = FakeWorker(search, "voc-followups")
    pub.on_publish = worker
    search.put("voc-followups", followup_doc())
    client = await make_client(create_console_app(settings, ctx))
    yield client, search, pub, worker
    await client.close()


def outcomes_sent(pub: FakePublisher) -> list[dict[str, Any]]:
    return pub.values(OUTCOMES)


async def action_form(client: Any, fid: str = FID) -> dict[str, str]:
    html = await (await client.get("/followups/" + fid)).text()
    aid = re.search(r'name="action_id" value="([0-9a-f]{32})"', html)
    ver = re.search(r'name="expected_version" value="(\d+)"', html)
    assert aid and ver, "no action form on the page"
    return {"csrf_token": csrf_from(html), "action_id": aid.group(1),
            "expected_version": ver.group(1)}


async def test_queue_lists_followups_with_countdown_and_escapes_text(env) -> None:  # type: ignore[no-untyped-def]
    client, search, _, _ = env
    await login(client, "vic")
    r = await client.get("/followups?priority=P1&mine=1")
    html = await r.text()
    assert r.status == 200
    assert 'data-due="2026-12-07T14:00:00+00:00"' in html
    assert "Angry about &lt;b&gt;outage&lt;/b&gt;" in html and "<b>outage" not in html
    alias, body = search.bodies[-1]
    assert alias == "voc-followups"
    assert {"term": {"assignee": "vic"}} in body["query"]["bool"]["filter"]  # type: ignore[index]
    r = await client.get("/followups?priority=P7")
    assert r.status == 400 and "priority must be one of" in await r.text()


async def test_detail_shows_the_case_and_earlier_contacts(env) -> None:  # type: ignore[no-untyped-def]
    client, search, _, _ = env
    search.put("voc-feedback", feedback_doc("fb-0"))
    await login(client, "bob")
    r = await client.get("/followups/" + FID)
    html = await r.text()
    assert r.status == 200
    for needle in ("No signal for 3 days!!", "anger", "says &#39;cancel&#39;", "churn threat",
                   "network", "We are sorry about the outage.", "earlier message",
                   'data-testid="actions"'):
        assert needle in html, needle
    alias, body = search.bodies[-1]
    assert alias == "voc-feedback"
    assert body["query"]["bool"]["filter"] == [{"term": {"customer_id": "cust-9"}}]  # type: ignore[index]
    assert body["query"]["bool"]["must_not"] == [{"ids": {"values": ["fb-1"]}}]  # type: ignore[index]


async def test_unknown_followup_is_a_404_page(env) -> None:  # type: ignore[no-untyped-def]
    client, _, pub, _ = env
    token = await login(client, "bob")
    r = await client.get("/followups/followup:nope")
    assert r.status == 404 and "No follow-up with id" in await r.text()
    r = await client.post("/followups/followup:nope", data={
        "csrf_token": token, "outcome": "claimed", "action_id": "a" * 32,
        "expected_version": "1"})
    assert r.status == 404 and outcomes_sent(pub) == []


async def test_viewer_has_no_buttons_and_a_forged_post_is_403(env) -> None:  # type: ignore[no-untyped-def]
    client, search, pub, _ = env
    token = await login(client, "vic")
    html = await (await client.get("/followups/" + FID)).text()
    assert 'data-testid="actions"' not in html and "action-claimed" not in html
    r = await client.post("/followups/" + FID, data={
        "csrf_token": token, "outcome": "claimed", "action_id": "a" * 32,
        "expected_version": "1"})
    assert r.status == 403 and outcomes_sent(pub) == []
    assert search.docs["voc-followups"][FID]["version"] == 1


async def test_claim_publishes_one_outcome_and_reports_success(env) -> None:  # type: ignore[no-untyped-def]
    client, search, pub, _ = env
    await login(client, "bob")
    form = await action_form(client)
    r = await client.post("/followups/" + FID, data={**form, "outcome": "claimed"})
    html = await r.text()
    assert r.status == 200 and "claimed: now claimed, version 2" in html
    [sent] = outcomes_sent(pub)
    assert sent["followup_id"] == FID and sent["outcome"] == "claimed"
    assert sent["agent"] == "bob" and sent["expected_version"] == 1
    assert sent["action_id"] == form["action_id"] and sent["schema_version"] == 1
    topic, key, _ = next(s for s in pub.sent if s[0] == OUTCOMES)
    assert key == FID.encode()
    audit = [a for a in pub.values("voc.audit") if a["action"] == "claimed"]
    assert len(audit) == 1 and audit[0]["target"] == FID and audit[0]["result"] == "applied"
    assert search.docs["voc-followups"][FID]["assignee"] == "bob"


async def test_double_submit_is_idempotent(env) -> None:  # type: ignore[no-untyped-def]
    client, _, pub, _ = env
    await login(client, "bob")
    form = await action_form(client)
    await client.post("/followups/" + FID, data={**form, "outcome": "claimed"})
    r = await client.post("/followups/" + FID, data={**form, "outcome": "claimed"})
    assert "already applied" in await r.text()
    assert len(outcomes_sent(pub)) == 1


async def test_edit_reply_and_resolve_with_a_markup_note(env) -> None:  # type: ignore[no-untyped-def]
    client, search, pub, _ = env
    await login(client, "bob")
    form = await action_form(client)
    r = await client.post("/followups/" + FID, data={
        **form, "outcome": "resolved", "note": "<script>alert(1)</script> refunded",
        "reply": "Edited: so sorry, credit applied."})
    html = await r.text()
    assert "resolved: now closed" in html
    [sent] = outcomes_sent(pub)
    assert sent["note"] == ("<script>alert(1)</script> refunded\n\nReply sent:\n"
                            "Edited: so sorry, credit applied.")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; refunded" in html
    assert 'data-testid="actions"' not in html  # closed: no more buttons
    assert search.docs["voc-followups"][FID]["state"] == "closed"


async def test_claimed_by_someone_else_is_a_conflict_and_nothing_is_sent(env) -> None:  # type: ignore[no-untyped-def]
    client, search, pub, _ = env
    search.put("voc-followups", followup_doc(state="claimed", assignee="carol", version=2,
                                             history=[{"action_id": "c" * 32,
                                                       "outcome": "claimed", "agent": "carol",
                                                       "at": "2026-12-07T10:01:00Z",
                                                       "note": None}]))
    await login(client, "bob")
    form = await action_form(client)
    r = await client.post("/followups/" + FID, data={**form, "outcome": "contacted"})
    assert "conflict: claimed by carol" in await r.text()
    assert outcomes_sent(pub) == []
    assert [a["result"] for a in pub.values("voc.audit") if a["action"] == "contacted"] == \
        ["conflict"]


async def test_losing_a_race_reports_who_won(env) -> None:  # type: ignore[no-untyped-def]
    client, search, pub, worker = env
    await login(client, "bob")
    form = await action_form(client)
    worker.before_apply = [{"followup_id": FID, "outcome": "claimed", "agent": "carol",
                            "at": "2026-12-07T10:02:00Z", "note": None,
                            "action_id": "d" * 32, "expected_version": 1}]
    r = await client.post("/followups/" + FID, data={**form, "outcome": "claimed"})
    assert "conflict: carol already claimed at 2026-12-07T10:02:00Z" in await r.text()
    assert len(outcomes_sent(pub)) == 1  # ours went out; the worker refused it
    doc = search.docs["voc-followups"][FID]
    assert doc["version"] == 2 and doc["assignee"] == "carol"


async def test_worker_silent_is_reported_as_pending(env) -> None:  # type: ignore[no-untyped-def]
    client, _, pub, _ = env
    pub.on_publish = None  # no worker
    await login(client, "bob")
    form = await action_form(client)
    r = await client.post("/followups/" + FID, data={**form, "outcome": "contacted"})
    assert "not confirmed yet" in await r.text()


@pytest.mark.parametrize("change,message", [
    ({"outcome": "closed"}, "unknown action"),
    ({"outcome": "claimed", "expected_version": "one"}, "whole number"),
    ({"outcome": "resolved", "note": "x" * 2001}, "limit is 2000"),
    ({"outcome": "resolved", "note": ""}, "needs a note"),
    ({"outcome": "claimed", "action_id": "../../etc"}, "action_id"),
])
async def test_forged_fields_are_400_and_nothing_is_published(env, change, message) -> None:  # type: ignore[no-untyped-def]
    client, search, pub, _ = env
    await login(client, "bob")
    form = await action_form(client)
    r = await client.post("/followups/" + FID, data={**form, **change})
    text = await r.text()
    assert r.status == 400 and message in text and "Nothing was changed" in text
    assert outcomes_sent(pub) == []
    assert search.docs["voc-followups"][FID]["version"] == 1


async def test_post_without_csrf_changes_nothing(env) -> None:  # type: ignore[no-untyped-def]
    client, _, pub, _ = env
    await login(client, "bob")
    form = await action_form(client)
    del form["csrf_token"]
    r = await client.post("/followups/" + FID, data={**form, "outcome": "claimed"})
    assert r.status == 403 and outcomes_sent(pub) == []


# --- explore and message pages ------------------------------------------------------------------


def explore_response() -> dict[str, Any]:
    src = feedback_doc("fb-7", text="the <i>outage</i> again")
    return {"hits": {"total": {"value": 1}, "hits": [{
        "_id": "fb-7", "_source": src,
        "highlight": {"text": ["the <i>\x02outage\x03</i> again"]}}]},
        "aggregations": {
            "sentiment": {"values": {"buckets": [{"key": "negative", "doc_count": 1}]}},
            "brand": {"values": {"buckets": [{"key": "acme", "doc_count": 1}]}},
            "rants": {"doc_count": 1}}}


async def test_explore_renders_facets_and_safe_highlights(env) -> None:  # type: ignore[no-untyped-def]
    client, search, _, _ = env
    search.responses["voc-feedback"] = explore_response()
    await login(client, "vic")
    r = await client.get("/explore?q=outage&sentiment=negative&brand=acme")
    html = await r.text()
    assert r.status == 200
    assert "the &lt;i&gt;<mark>outage</mark>&lt;/i&gt; again" in html
    assert 'data-value="negative"' in html and 'class="on"' in html
    assert "<strong>1</strong> messages, 1 rants" in html
    _, body = search.bodies[-1]
    assert {"term": {"brand": "acme"}} in body["post_filter"]["bool"]["filter"]  # type: ignore[index]
    r = await client.get("/explore?sentiment=furious")
    assert r.status == 400


async def test_message_page_shows_every_enrichment_and_why(env) -> None:  # type: ignore[no-untyped-def]
    client, search, _, _ = env
    search.put("voc-feedback", feedback_doc("fb-5"))
    await login(client, "vic")
    html = await (await client.get("/messages/fb-5")).text()
    for needle in ("repeat contact", "double charged", "billing", "redacted: phone", "minilm",
                   "anger 0.80", "-0.70"):
        assert needle in html, needle
    r = await client.get("/messages/nope")
    assert r.status == 404


async def test_unredacted_fields_never_render(env) -> None:  # type: ignore[no-untyped-def]
    client, search, _, _ = env
    secret = "SECRET-ORIGINAL-07700900123"
    search.put("voc-feedback", feedback_doc("fb-6", original_b64=secret, original=secret,
                                            raw_text=secret, body=secret))
    search.put("voc-followups", followup_doc(original_b64=secret, feedback={"text": secret,
                                                                            "body": secret}))
    await login(client, "bob")
    for url in ("/messages/fb-6", "/followups/" + FID, "/followups"):
        html = await (await client.get(url)).text()
        assert secret not in html, url


def test_no_template_names_an_unredacted_field() -> None:
    """No template expression reads an original/raw field or disables escaping."""
    templates = Path(__file__).resolve().parents[2] / "streams" / "console" / "templates"
    found = list(templates.glob("*.html"))
    assert len(found) >= 5
    for path in found:
        code = " ".join(re.findall(r"{{.*?}}|{%.*?%}", path.read_text(), flags=re.S))
        forbidden = [r"original", r"raw_text", r"\.body\b", r"autoescape"]
        if path.name != "runbook.html":  # runbooks are the repo's own markdown, not customer text
            forbidden.append(r"\|\s*safe")
        for pattern in forbidden:
            assert not re.search(pattern, code), f"{path.name} uses {pattern}"


async def test_reasons_are_listed_once_and_closed_cases_have_no_countdown(env) -> None:  # type: ignore[no-untyped-def]
    client, search, _, _ = env
    search.put("voc-followups", followup_doc(
        state="closed", reasons=["churn threat", "angry"],
        urgency={"level": "high", "score": 0.8, "reasons": ["angry", "churn threat", "legal"]}))
    await login(client, "vic")
    html = await (await client.get("/followups/" + FID)).text()
    assert html.count("<li>churn threat</li>") == 1 and html.count("<li>angry</li>") == 1
    assert "<li>legal</li>" in html
    assert "data-due=" not in html
