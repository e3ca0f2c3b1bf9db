"""Console render time: the overview and the follow-up queue, server-side p95, beside the
bare search + Prometheus + Alertmanager requests each page makes, timed in the same run.

    python bench/console_data.py --docs 200000     # once: the data set
    python bench/console.py [--requests 200] [--warmup 10]

Why: issue 17's target is each page within 1.5x of its own backend requests (what the
page adds: parsing, the template, the session) and an absolute p95 users do not feel
(~300 ms). The console app runs in this process on aiohttp's test server with the real
clients (``ConsoleContext.from_settings``); a middleware placed outermost measures the
server-side time of each request (session, handler, template, response). The "bare"
series issues exactly the page's backend requests, concurrently as the page does, from
the same process and clients. Page and bare requests alternate so both see the same
cluster state. Prints JSON and writes bench/results/console.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from streams.console.app import create_console_app  # noqa: E402
from streams.console.auth import add_user  # noqa: E402
from streams.console.context import ConsoleContext  # noqa: E402
from streams.console.overview import (  # noqa: E402
    HEALTH_QUERIES,
    feedback_body,
    firing_alerts,
    followups_body,
    parse_filters,
    prom_query,
)
from streams.console.queries import QueueFilters, queue_query  # noqa: E402
from streams.console.queue import QUEUE_SIZE  # noqa: E402
from streams.settings import Settings  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "console.json"
USER, PASSWORD = "bench-admin", "bench-admin-password"
TARGET_RATIO = 1.5
TARGET_P95_MS = 300.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(ms, 0.5), 2), "p95_ms": round(pct(ms, 0.95), 2),
            "mean_ms": round(statistics.fmean(ms), 2), "n": len(ms)}


def _timing_middleware(store: dict[str, float]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def timing(request: web.Request, handler: Callable[..., Awaitable[Any]]
                     ) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            store["last_ms"] = (time.perf_counter() - started) * 1000
    return timing


async def bare_overview(ctx: ConsoleContext, query: dict[str, str]) -> None:
    """The overview's backend requests, exactly as the page issues them (all at once)."""
    s = ctx.settings
    f = parse_filters(query)
    now = datetime.now(UTC)
    await asyncio.gather(
        ctx.search.search(s.search_alias, feedback_body(f, now)),
        ctx.search.search(s.alias("followups"), followups_body(f, now)),
        *(prom_query(ctx.http, s.console.prometheus_url, q) for _l, q in HEALTH_QUERIES.values()),
        firing_alerts(ctx),
        return_exceptions=True)


async def bare_queue(ctx: ConsoleContext, user: str) -> None:
    """The queue's one search request (default filters, first page)."""
    await ctx.search.search(ctx.settings.alias("followups"),
                            queue_query(QueueFilters.parse({}), user, QUEUE_SIZE))


async def _count(ctx: ConsoleContext, alias: str) -> int:
    resp = await ctx.search.search(alias, {"size": 0, "track_total_hits": True})
    total = (resp.get("hits") or {}).get("total") or {}  # type: ignore[union-attr]
    return int(total.get("value", 0)) if isinstance(total, dict) else int(total)


async def run(requests: int, warmup: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="voc-console-bench-"))
    users = tmp / "users.json"
    add_user(users, USER, "admin", PASSWORD)
    base = Settings()
    settings = base.model_copy(update={"console": base.console.model_copy(
        update={"users_file": users, "secret_file": tmp / "secret"})})
    ctx = ConsoleContext.from_settings(settings)
    app = create_console_app(settings, ctx)
    clock: dict[str, float] = {}
    app.middlewares.insert(0, _timing_middleware(clock))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        login = await client.get("/login")
        html = await login.text()
        marker = 'name="csrf_token" value="'
        token = html[html.index(marker) + len(marker):].split('"', 1)[0]
        resp = await client.post("/login", data={"username": USER, "password": PASSWORD,
                                                 "csrf_token": token, "next": "/"},
                                 allow_redirects=False)
        assert resp.status == 303, await resp.text()

        pages: dict[str, tuple[str, Callable[[], Awaitable[None]]]] = {
            "overview": ("/", lambda: bare_overview(ctx, {})),
            "overview_7d": ("/?period=7d", lambda: bare_overview(ctx, {"period": "7d"})),
            "queue": ("/followups", lambda: bare_queue(ctx, USER)),
        }
        page_ms: dict[str, list[float]] = {k: [] for k in pages}
        client_ms: dict[str, list[float]] = {k: [] for k in pages}
        bare_ms: dict[str, list[float]] = {k: [] for k in pages}
        for i in range(warmup + requests):
            for name, (path, bare) in pages.items():
                started = time.perf_counter()
                r = await client.get(path)
                body = await r.text()
                elapsed = (time.perf_counter() - started) * 1000
                if r.status != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status}: {body[:300]}")
                started = time.perf_counter()
                await bare()
                bare_elapsed = (time.perf_counter() - started) * 1000
                if i >= warmup:
                    page_ms[name].append(clock["last_ms"])
                    client_ms[name].append(elapsed)
                    bare_ms[name].append(bare_elapsed)
        docs = {"feedback": await _count(ctx, settings.search_alias),
                "followups": await _count(ctx, settings.alias("followups"))}
    finally:
        await client.close()
    out: dict[str, Any] = {
        "bench": "console", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "docs": docs, "requests": requests, "warmup": warmup,
        "target": {"ratio_p95": TARGET_RATIO, "absolute_p95_ms": TARGET_P95_MS},
        "pages": {},
    }
    for name, (path, _bare) in pages.items():
        page, bare = summary(page_ms[name]), summary(bare_ms[name])
        ratio = page["p95_ms"] / bare["p95_ms"] if bare["p95_ms"] else None
        out["pages"][name] = {
            "path": path, "server_render": page, "client_round_trip": summary(client_ms[name]),
            "bare_backend_requests": bare,
            "ratio_p95": round(ratio, 3) if ratio is not None else None,
            "within_ratio": ratio is not None and ratio <= TARGET_RATIO,
            "within_300ms": page["p95_ms"] <= TARGET_P95_MS,
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200, help="measured requests per page")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    result = asyncio.run(run(args.requests, args.warmup))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
