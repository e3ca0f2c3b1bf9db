"""The console's aiohttp application: templates, static assets, auth and every page.

Each page module has ``setup(app)`` that adds its routes; ``PAGES`` lists them in nav
order. The app runs in its own process (``voc console``), never on the worker's loop.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import aiohttp_jinja2
import jinja2
from aiohttp import web

from streams.console import alerts, auth, deadletters, explore, overview, queue
from streams.console.auth import AUTH, make_auth_state, session_middleware, template_context
from streams.console.context import CTX, ConsoleContext
from streams.liveness import LIVE_PATH, liveness_body
from streams.settings import Settings

HERE = Path(__file__).resolve().parent
PAGES: tuple[ModuleType, ...] = (auth, overview, queue, explore, deadletters, alerts)
MAX_REQUEST_BYTES = 256 * 1024  # forms only: notes are capped far below this


async def _context_processor(request: web.Request) -> dict[str, object]:
    return template_context(request)


async def _live(request: web.Request) -> web.Response:
    """Liveness (no login, no backend): the console's loop answers."""
    return web.json_response(liveness_body("console"))


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # no inline script or style, no framing, nothing from outside the console
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
    else:
        response.headers.setdefault("Cache-Control", "no-store")


def create_console_app(settings: Settings, ctx: ConsoleContext | None = None, *,
                       secret: bytes | None = None) -> web.Application:
    """The console app; ``ctx`` defaults to the real clients (connected on first use)."""
    app = web.Application(middlewares=[session_middleware], client_max_size=MAX_REQUEST_BYTES)
    app[CTX] = ctx or ConsoleContext.from_settings(settings)
    app[AUTH] = make_auth_state(settings, secret)
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                               autoescape=True, context_processors=[_context_processor])
    env.globals["nav"] = [("/", "Overview"), ("/followups", "Follow-ups"),
                          ("/explore", "Explore"), ("/deadletters", "Dead letters"),
                          ("/alerts", "Alerts")]
    app.router.add_static("/static/", HERE / "static", name="static")
    app.router.add_get(LIVE_PATH, _live)
    for page in PAGES:
        page.setup(app)
    app.on_response_prepare.append(_security_headers)

    async def _close(app: web.Application) -> None:
        await app[CTX].close()

    app.on_cleanup.append(_close)
    return app
