"""In-memory seams for the console's unit tests (the browser tests use the real stack)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.console.auth import add_user
from streams.console.context import ConsoleContext
from streams.settings import Settings

PASSWORDS = {"ada": "ada-admin-pw", "bob": "bob-agent-pw", "vic": "vic-viewer-pw"}
ROLES = {"ada": "admin", "bob": "agent", "vic": "viewer"}


class FakeSearch:
    """Docs per alias; ``search`` answers ids/term queries the console sends in unit tests
    and records every body it was asked."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}
        self.bodies: list[tuple[str, dict[str, object]]] = []
        self.responses: dict[str, dict[str, object]] = {}

    def put(self, alias: str, doc: dict[str, Any]) -> None:
        self.docs.setdefault(alias, {})[str(doc["id"])] = json.loads(json.dumps(doc))

    async def search(self, alias: str, body: dict[str, object]) -> dict[str, object]:
        self.bodies.append((alias, body))
        if alias in self.responses:
            return self.responses[alias]
        docs = list(self.docs.get(alias, {}).values())
        query = body.get("query") or {}
        if isinstance(query, dict) and "ids" in query:
            wanted = set(query["ids"]["values"])
            docs = [d for d in docs if str(d["id"]) in wanted]
        hits = [{"_id": str(d["id"]), "_source": d} for d in docs]
        return {"hits": {"total": {"value": len(hits)}, "hits": hits}, "aggregations": {}}

    async def get(self, alias: str, doc_id: str) -> dict[str, Any] | None:
        doc = self.docs.get(alias, {}).get(doc_id)
        return json.loads(json.dumps(doc)) if doc else None

    async def close(self) -> None:
        return None


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.on_publish: Any = None

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.sent.append((topic, key, value))
        if self.on_publish is not None:
            await self.on_publish(topic, key, value)

    def values(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(v) for t, _k, v in self.sent if t == topic]

    async def close(self) -> None:
        return None


def console_settings(tmp: Path, **console: Any) -> Settings:
    users = tmp / "users.json"
    for name, pw in PASSWORDS.items():
        if not users.exists() or name not in users.read_text():
            add_user(users, name, ROLES[name], pw)
    opts: dict[str, Any] = {"users_file": users, "secret_file": tmp / "secret",
                            "outcome_wait_s": 0.3}
    opts.update(console)
    return Settings(console=opts, stack={"state_dir": tmp / "state"})


def fake_context(settings: Settings) -> tuple[ConsoleContext, FakeSearch, FakePublisher]:
    search, pub = FakeSearch(), FakePublisher()
    ctx = ConsoleContext(settings=settings, search=search, publisher=pub,
                         http=httpx.AsyncClient())
    return ctx, search, pub


async def make_client(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    i = html.index(marker) + len(marker)
    return html[i:html.index('"', i)]


async def login(client: TestClient, user: str) -> str:
    """Log ``user`` in and return the session's CSRF token."""
    page = await client.get("/login")
    token = csrf_from(await page.text())
    resp = await client.post("/login", data={"username": user, "password": PASSWORDS[user],
                                             "csrf_token": token, "next": "/followups"},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    page = await client.get("/login?next=/x", allow_redirects=False)  # logged in: redirect
    assert page.status == 303
    return await session_csrf(client)


async def session_csrf(client: TestClient) -> str:
    """The CSRF token of the current session, from the logout form every page carries."""
    page = await client.get("/no-such-page")
    assert page.status == 404
    return csrf_from(await page.text())
