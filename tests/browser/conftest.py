"""Browser tests: Debian's chromium driven by Playwright for Python, against a real
``voc console`` subprocess and the real local stack (Kafka, OpenSearch).

One console runs for the whole session on a free port, with a temp users file (admin,
agent, viewer) and names of its own: a topic prefix and search aliases unique to the run,
so the tests never see (or disturb) anyone else's data and clean up completely. The e2e
module starts a worker with the same names. Screenshots go to tests/artifacts/.

A missing server or browser is a loud failure, never a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from streams.settings import Settings
from tests.support.live import free_port, require_stack, voc_process

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"ada": "ada-admin-password", "bob": "bob-agent-password",
             "vic": "vic-viewer-password"}
ROLES = {"ada": "admin", "bob": "agent", "vic": "viewer"}

def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything here needs the real stack: the ``integration`` marker."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@dataclass
class Run:
    """The names of this session's world and a console serving it."""

    run: str
    env: dict[str, str]
    settings: Settings
    workdir: Path
    console_url: str = ""
    console_log: Path | None = None
    created_indices: list[str] = field(default_factory=list)

    @property
    def search_url(self) -> str:
        return self.settings.search_url.rstrip("/")

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    @property
    def audit_topic(self) -> str:
        return self.settings.topic("audit")


def _create_topics(settings: Settings, audit_topic: str) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from streams.topics import create_topics, kafka_client_kwargs

    create_topics(settings)
    admin = KafkaAdminClient(client_id="voc-browser-tests", **kafka_client_kwargs(settings))
    try:
        if audit_topic not in set(admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(audit_topic, 1, 1)])
    finally:
        admin.close()


def _delete_topics(settings: Settings, extra: list[str]) -> None:
    from kafka import KafkaAdminClient

    from streams.topics import delete_internal_topics, delete_topics, kafka_client_kwargs

    delete_topics(settings)
    delete_internal_topics(settings)
    admin = KafkaAdminClient(client_id="voc-browser-tests", **kafka_client_kwargs(settings))
    try:
        existing = set(admin.list_topics())
        gone = [t for t in extra if t in existing]
        if gone:
            admin.delete_topics(gone)
    finally:
        admin.close()


def drop_alias(search_url: str, alias: str) -> None:
    """Delete every index behind ``alias`` and a template of that name (test clean-up)."""
    with httpx.Client(base_url=search_url, timeout=30) as http:
        r = http.get(f"/_alias/{alias}")
        if r.status_code == 200:
            for index in r.json():
                http.delete(f"/{index}")
        http.delete(f"/_index_template/{alias}")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Unique topics and aliases, a users file with one user per role, and the env that
    points a console (and the e2e worker) at them. Everything is removed afterwards."""
    from streams.console.auth import add_user

    base = Settings()
    require_stack(base)
    run = uuid.uuid4().hex[:8]
    workdir = tmp_path_factory.mktemp(f"console-{run}")
    users = workdir / "users.json"
    for name, pw in PASSWORDS.items():
        add_user(users, name, ROLES[name], pw)
    worker_port = free_port()
    env = {
        "VOC_TOPIC_PREFIX": f"bt-{run}.",
        "VOC_SEARCH_ALIAS": f"voc-btf-{run}",
        "VOC_SEARCH_REPLICAS": "0",
        "VOC_CONSUMER_GROUP": f"voc-bt-{run}",
        "VOC_WEB_PORT": str(worker_port),
        "VOC_WORKER_DATA_DIR": str(workdir / "worker"),
        "VOC_BATCH_WITHIN_S": "0.1",
        "VOC_CONSOLE__PORT": str(free_port()),
        "VOC_CONSOLE__USERS_FILE": str(users),
        "VOC_CONSOLE__SECRET_FILE": str(workdir / "secret"),
        "VOC_CONSOLE__ALERT_TOKEN_FILE": str(workdir / "alert-token"),
        "VOC_CONSOLE__WORKER_URL": f"http://127.0.0.1:{worker_port}",
        # the console's indices follow VOC_SEARCH_ALIAS (voc-btf-<run>-followups, ...)
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = Settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    w = Run(run=run, env=env, settings=settings, workdir=workdir)
    _create_topics(settings, w.audit_topic)
    try:
        yield w
    finally:
        for alias in (settings.alias(i) for i in ("feedback", "followups", "deadletters",
                                                     "audit")):
            drop_alias(w.search_url, alias)
        _delete_topics(settings, [w.audit_topic])


@pytest.fixture(scope="session")
def console(world: Run) -> Iterator[Run]:
    """``voc console`` as a real subprocess on the world's port; killed after the session."""
    port = int(world.env["VOC_CONSOLE__PORT"])
    log_path = world.workdir / "console.log"
    env = {**os.environ, **world.env,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    world.console_url = f"http://127.0.0.1:{port}"
    world.console_log = log_path

    def answers() -> bool:
        try:
            return httpx.get(world.console_url + "/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    with voc_process("console", env, log_path, answers, timeout=60, stop_grace_s=15, cwd=REPO):
        yield world


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium through Playwright (its own browser download cannot work here).

    Module scope, not session: Playwright's sync API runs an event loop of its own while it
    is open, and the async tests that run after this folder in the same pytest process
    could not start theirs."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


class Pages:
    """Log in as someone in a fresh browser context; screenshots on request."""

    def __init__(self, browser: Any, world: Run, request: pytest.FixtureRequest) -> None:
        self.browser, self.world, self.request = browser, world, request
        self.contexts: list[Any] = []
        self.opened: list[Any] = []

    def login(self, user: str) -> Any:
        ctx = self.browser.new_context(base_url=self.world.console_url,
                                       viewport={"width": 1280, "height": 900})
        self.contexts.append(ctx)
        page = ctx.new_page()
        self.opened.append(page)
        page.goto("/followups")
        assert "/login" in page.url
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORDS[user])
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=user]")
        assert page.inner_text("[data-testid=role]") == ROLES[user]
        return page

    def shot(self, page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{self.request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        failed = getattr(self.request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for i, page in enumerate(self.opened):
                with contextlib.suppress(Exception):  # a closed page has nothing to show
                    self.shot(page, f"failure-{i}")
        for ctx in self.contexts:
            ctx.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture()
def pages(browser: Any, console: Run, request: pytest.FixtureRequest) -> Iterator[Pages]:
    p = Pages(browser, console, request)
    try:
        yield p
    finally:
        p.close()


def csrf_of(page: Any) -> str:
    """The session's CSRF token, from the logout form every page carries."""
    return str(page.get_attribute("form[action='/logout'] input[name=csrf_token]", "value"))


# --- putting documents in the real OpenSearch ------------------------------------------------

def now_iso(**delta: float) -> str:
    from datetime import timedelta

    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def index_feedback(world: Run, docs: list[dict[str, Any]]) -> None:
    """Index EnrichedFeedback-shaped docs through the project's own backend (template,
    alias and monthly index as the worker makes them), then refresh."""
    from streams.search.factory import make_backend

    async def go() -> None:
        backend = make_backend(world.settings)
        try:
            await backend.ensure_index()
            results = await backend.bulk_index(docs)
            assert all(r.ok for r in results), [r.error for r in results if not r.ok]
            await backend.refresh()
        finally:
            await backend.close()

    run_async(go)


def run_async(fn: Callable[[], Any]) -> Any:
    """Run a coroutine function to completion on a thread of its own (Playwright's sync API
    keeps an event loop on the test's thread)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(fn())).result()


def index_followups(world: Run, docs: list[dict[str, Any]]) -> None:
    """Index follow-up docs behind the run's follow-ups alias, under the worker's own
    template (installed as ``voc worker`` installs it), then refresh."""
    from schemas.indices import FOLLOWUPS
    from streams.search import make_backend

    async def install() -> None:
        backend = make_backend(world.settings, index=FOLLOWUPS)
        try:
            await backend.ensure_index()
        finally:
            await backend.close()

    run_async(install)
    index = f"{world.settings.alias('followups')}-{datetime.now(UTC):%Y.%m}"
    with httpx.Client(base_url=world.search_url, timeout=30) as http:
        lines = []
        for d in docs:
            lines.append(json.dumps({"index": {"_index": index, "_id": d["id"]}}))
            lines.append(json.dumps(d))
        r = http.post("/_bulk?refresh=true", content="\n".join(lines) + "\n",
                      headers={"Content-Type": "application/x-ndjson"})
        assert r.status_code == 200 and not r.json()["errors"], r.text


def feedback_doc(fid: str, **kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": 1, "id": fid, "channel": "sms", "brand": "acme",
        "customer_id": None, "received_at": now_iso(hours=-1), "enriched_at": now_iso(),
        "text": "a message", "language": "en", "language_supported": True,
        "opt_out": False, "truncated": False,
        "sentiment": {"label": "neutral", "score": 0.0},
        "emotion": {"label": "neutral", "scores": {"neutral": 0.9, "anger": 0.1}},
        "topics": [], "urgency": {"level": "low", "score": 0.1, "reasons": []},
        "is_rant": False, "pii": {"redacted": False, "kinds": []},
        "model": {"encoder": "test", "version": "0"}}
    doc.update(kw)
    return doc


def followup_doc(fid: str, feedback_id: str, **kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": fid, "feedback_id": feedback_id, "customer_id": None, "brand": "acme",
        "channel": "sms", "priority": "P1", "created_at": now_iso(minutes=-5),
        "due_by": now_iso(hours=4), "received_at": now_iso(minutes=-6),
        "reasons": ["threatens to leave"], "summary": "Customer furious about outage",
        "suggested_reply": "I'm so sorry about the outage.", "text": "No signal for days!",
        "language": "en", "sentiment": "negative", "emotion": "anger",
        "urgency": {"level": "critical", "score": 0.9, "reasons": ["churn threat"]},
        "topics": [{"name": "network", "evidence": "No signal"}], "state": "open",
        "last_outcome": None, "assignee": None, "breached": False, "version": 1,
        "history": [], "updated_at": now_iso(minutes=-5)}
    doc.update(kw)
    return doc


def read_topic(world: Run, topic: str, match: Callable[[dict[str, Any]], bool],
               timeout: float = 20.0) -> list[dict[str, Any]]:
    """JSON values on ``topic`` (from the beginning) that satisfy ``match``, read by a
    separate consumer (no group, nothing committed)."""
    from kafka import KafkaConsumer

    from streams.topics import kafka_client_kwargs

    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=2000,
                             **kafka_client_kwargs(world.settings))
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not found:
            for rec in consumer:
                try:
                    value = json.loads(rec.value)
                except ValueError:
                    continue
                if isinstance(value, dict) and match(value):
                    found.append(value)
    finally:
        consumer.close()
    return found
