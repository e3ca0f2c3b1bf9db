"""Alerts that reach people: Alertmanager's webhook, the alert history, and the runbooks.

* ``POST /alerts/webhook``: Alertmanager's webhook receiver (deploy/local/alertmanager.yml).
  It authenticates with a bearer token read from a file (no session, so no CSRF), checks
  the payload's shape, and writes one ``alert`` audit event per alert; the audit index is
  then the alert history.
* ``GET /alerts``: what fires now (Alertmanager API v2) beside that history.
* ``GET /runbooks/<name>``: docs/runbooks/<name>.md rendered; every rule's ``runbook_url``
  is this path, so a link works wherever the console is served.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markdown_it import MarkdownIt

from streams.console.alert_token import ensure_alert_token, read_alert_token
from streams.console.auth import csrf_exempt, require_role
from streams.console.context import CTX, ctx_of
from streams.console.overview import firing_alerts, runbook_link
from streams.console.queries import hits_of, total_of

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
RUNBOOK_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# the repo's docs/runbooks first (an editable install, a checkout), then the package's copy
RUNBOOK_DIRS: tuple[Path, ...] = (HERE.parents[1] / "docs" / "runbooks", HERE / "runbooks")
MAX_ALERTS = 1000
HISTORY_PAGE = 50
_STATUSES = frozenset({"firing", "resolved"})


# --- webhook ---------------------------------------------------------------------------

class PayloadError(ValueError):
    """The body is not an Alertmanager webhook notification (answered with 400)."""


@dataclass(frozen=True)
class AlertNotice:
    name: str
    status: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str

    def detail(self) -> str:
        """The audit event's ``detail`` (the contract's JSON object)."""
        return json.dumps({"status": self.status, "severity": self.severity,
                           "labels": self.labels, "annotations": self.annotations,
                           "startsAt": self.starts_at, "endsAt": self.ends_at},
                          sort_keys=True)


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PayloadError(f"{what} must be an object of strings")
    return dict(value)


def parse_webhook(payload: Any) -> list[AlertNotice]:
    """The alerts of one notification (Alertmanager webhook format version 4)."""
    if not isinstance(payload, dict):
        raise PayloadError("payload must be a JSON object")
    version = payload.get("version")
    if version is not None and str(version) != "4":
        raise PayloadError(f"unsupported webhook version {version!r} (expected \"4\")")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("'alerts' must be a non-empty list")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"more than {MAX_ALERTS} alerts in one notification")
    out = []
    for i, a in enumerate(alerts):
        if not isinstance(a, dict):
            raise PayloadError(f"alerts[{i}] must be an object")
        status = a.get("status")
        if status not in _STATUSES:
            raise PayloadError(f"alerts[{i}].status must be 'firing' or 'resolved'")
        labels = _str_map(a.get("labels"), f"alerts[{i}].labels")
        name = labels.get("alertname", "")
        if not RUNBOOK_NAME.fullmatch(name):
            raise PayloadError(f"alerts[{i}].labels.alertname missing or not [A-Za-z0-9_-]+")
        starts, ends = a.get("startsAt", ""), a.get("endsAt", "")
        if not isinstance(starts, str) or not isinstance(ends, str):
            raise PayloadError(f"alerts[{i}].startsAt/endsAt must be strings")
        out.append(AlertNotice(name, status, labels.get("severity", ""), labels,
                               _str_map(a.get("annotations"), f"alerts[{i}].annotations"),
                               starts, ends))
    return out


def bearer_ok(header: str | None, token: str) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>``; an empty token never
    matches (a missing token file locks the webhook, it does not open it)."""
    if not token or not header:
        return False
    scheme, _, sent = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(),
                                                              token.encode())


@csrf_exempt
async def webhook(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    if not bearer_ok(request.headers.get("Authorization"), read_alert_token(ctx.settings)):
        return web.json_response({"error": "missing or wrong bearer token"}, status=401,
                                 headers={"WWW-Authenticate": "Bearer"})
    try:
        payload = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": "body is not JSON"}, status=400)
    try:
        notices = parse_webhook(payload)
    except PayloadError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    for n in notices:
        await ctx.audit("alertmanager", "", "alert", n.name, n.detail(), n.status)
    return web.json_response({"recorded": len(notices)})


# --- history ---------------------------------------------------------------------------

@dataclass
class HistoryRow:
    at: str
    name: str
    status: str
    severity: str
    summary: str
    runbook: str | None


def history_body(page: int, size: int = HISTORY_PAGE) -> dict[str, Any]:
    return {"size": size, "from": page * size, "track_total_hits": True,
            "query": {"bool": {"filter": [{"term": {"action": "alert"}}]}},
            "sort": [{"at": {"order": "desc"}}]}


def parse_history(resp: dict[str, Any]) -> tuple[list[HistoryRow], int]:
    rows = []
    for h in hits_of(resp):
        src = h.get("_source") or {}
        try:
            detail = json.loads(src.get("detail") or "{}")
        except json.JSONDecodeError:
            detail = {}
        if not isinstance(detail, dict):
            detail = {}
        notes = detail.get("annotations") or {}
        name = str(src.get("target", ""))
        rows.append(HistoryRow(str(src.get("at", "")), name,
                               str(detail.get("status") or src.get("result", "")),
                               str(detail.get("severity", "")), str(notes.get("summary", "")),
                               runbook_link(name, notes if isinstance(notes, dict) else {})))
    return rows, total_of(resp)


@require_role("viewer")
async def alerts_page(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    try:
        page = max(0, min(int(request.query.get("page", "0")), 200))
    except ValueError:
        page = 0
    firing: list[Any] = []
    firing_error = history_error = None
    try:
        firing = await firing_alerts(ctx)
    except Exception as exc:
        firing_error = f"Alertmanager unavailable ({type(exc).__name__})"
    rows: list[HistoryRow] = []
    total = 0
    try:
        rows, total = parse_history(
            await ctx.search.search(ctx.settings.alias("audit"), history_body(page)))
    except Exception as exc:
        history_error = f"audit index unavailable ({type(exc).__name__})"
    return aiohttp_jinja2.render_template("alerts.html", request, {
        "firing": firing, "firing_error": firing_error, "rows": rows, "total": total,
        "page": page, "pages": max(1, -(-total // HISTORY_PAGE)),
        "history_error": history_error})


# --- runbooks --------------------------------------------------------------------------

_md = MarkdownIt("commonmark", {"html": False}).enable("table")
_LOCAL_LINK = re.compile(r'href="([A-Za-z0-9_-]+)\.md"')


def runbook_file(name: str, dirs: tuple[Path, ...] = RUNBOOK_DIRS) -> Path | None:
    """The markdown file for ``name``, or None (an invalid name is never a path)."""
    if not RUNBOOK_NAME.fullmatch(name):
        return None
    for d in dirs:
        path = d / f"{name}.md"
        if path.is_file():
            return path
    return None


def render_runbook(text: str) -> str:
    """Markdown to HTML with raw HTML escaped; links between runbooks stay in the console."""
    return _LOCAL_LINK.sub(r'href="/runbooks/\1"', _md.render(text))


async def _render_runbook_page(request: web.Request, name: str) -> web.StreamResponse:
    path = runbook_file(name)
    if path is None:
        raise web.HTTPNotFound(text=f"No runbook named {name[:80]!r}.")
    return aiohttp_jinja2.render_template("runbook.html", request, {
        "name": name, "html": render_runbook(path.read_text(encoding="utf-8"))})


@require_role("viewer")
async def runbook(request: web.Request) -> web.StreamResponse:
    return await _render_runbook_page(request, request.match_info["name"])


@require_role("viewer")
async def runbook_index(request: web.Request) -> web.StreamResponse:
    return await _render_runbook_page(request, "README")


def setup(app: web.Application) -> None:
    ensure_alert_token(app[CTX].settings)
    app.router.add_post("/alerts/webhook", webhook)
    app.router.add_get("/alerts", alerts_page)
    app.router.add_get("/runbooks", runbook_index)
    app.router.add_get("/runbooks/{name}", runbook)
