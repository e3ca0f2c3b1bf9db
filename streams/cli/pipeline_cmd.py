"""``voc worker`` (the Faust worker, all agents) and ``voc demo`` (the whole thing, end to end).

Heavy imports (Faust, torch, clients) happen inside the commands so ``voc --help``
stays instant.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from streams.cli.demo_console import (
    DEMO_USER,
    console_url,
    ensure_demo_user,
    start_console,
    stop_console,
)
from streams.probe import NotAnswering, http_json, wait_answering

if TYPE_CHECKING:
    from streams.settings import Settings
    from streams.types import BatchEnricher

DEMO_SAMPLE = Path("deploy/sample/replies.jsonl")


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def wait_healthy(base_url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None
                 ) -> dict[str, Any]:
    """Poll ``/health`` until it says ok (or the worker process dies, or time runs out)."""
    try:
        return dict(wait_answering(base_url + "/health", timeout_s, proc, name="worker"))
    except NotAnswering as exc:
        raise click.ClickException(str(exc)) from exc


def _worker_pidfile(settings: Any) -> Path:
    return Path(settings.worker_data_dir) / "demo-worker.pid"


def _running_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def freeze_startup_objects() -> int:
    """Move everything alive after start-up (the model, tokenizer, libraries) out of the
    garbage collector's reach; returns how many objects were frozen.

    They live as long as the worker, yet every full collection walked them all: measured
    in the pipeline bench, a steady-state gen-2 collection paused the whole event loop
    (every agent, /metrics, Kafka heartbeats) for 0.43-0.45 s. Frozen, a full collection
    only walks what the stream allocated since. Start-up garbage is collected first, so
    nothing that is already unreachable is frozen with the rest.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def run_worker(settings: Settings, enricher: BatchEnricher | None = None) -> None:
    """What ``voc worker`` runs (``enricher`` None = the configured model; the integration
    tests pass a light one, to run several real workers on a small machine)."""
    from faust.worker import Worker

    from streams.app import build_worker_app
    from streams.logging import configure_logging
    from streams.security import mask_url

    configure_logging(settings)
    for noisy in ("elastic_transport", "opensearch", "httpx"):  # one line per bulk call
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        app = build_worker_app(settings, enricher=enricher)
    except (OSError, ValueError) as exc:  # model/heads/taxonomy missing or invalid
        raise click.ClickException(f"cannot start the worker: {exc}") from exc
    freeze_startup_objects()
    from streams.topics import create_internal_topics

    create_internal_topics(settings)  # before the group join: see its docstring
    click.echo(
        f"voc worker: kafka {settings.kafka_bootstrap} ({settings.kafka_security_protocol}), "
        f"search {mask_url(settings.search_url)} "
        f"(alias {settings.search_alias}), web http://{settings.web_host}:{settings.web_port}",
        err=True,
    )
    # JSON logs keep configure_logging's handler: mode would replace it with its own
    # coloured text handler (the record factory still scrubs either way)
    worker = Worker(app, loglevel=settings.log_level.lower(), quiet=True,
                    override_logging=settings.log_format != "json")
    # At WARNING and above Faust keeps a terminal spinner and sets the root logger to
    # DEBUG so every record spins it: each aiokafka debug record would then be built
    # and scrubbed (measured: ~7% of the worker's main thread). No spinner, our level.
    worker.spinner = None
    worker.execute_from_commandline()


def register(cli: click.Group) -> None:
    """Attach ``worker`` and ``demo`` to the voc group."""

    @cli.command()
    @click.option("--loglevel", default=None, help="override VOC_LOG_LEVEL (debug, info, ...)")
    def worker(loglevel: str | None) -> None:
        """Run the Faust worker: enrich, index and follow-up agents, /metrics, /health, /live."""
        from streams.settings import get_settings

        settings = get_settings()
        if loglevel:
            settings = settings.model_copy(update={"log_level": loglevel})
        run_worker(settings)

    @cli.command()
    @click.option("--file", "sample", type=click.Path(path_type=Path), default=None,
                  help=f"JSONL to replay (default {DEMO_SAMPLE})")
    @click.option("--stop", is_flag=True, help="stop the demo worker and the stack, then exit")
    @click.option("--timeout", default=300.0, show_default=True,
                  help="seconds to wait for the index to settle")
    def demo(sample: Path | None, stop: bool, timeout: float) -> None:
        """Stack up, worker, replay the sample, then show what came out."""
        from streams.settings import get_settings

        settings = get_settings()
        pidfile = _worker_pidfile(settings)
        voc = [sys.executable, "-m", "streams.cli.main"]
        if stop:
            stop_console(settings)
            pid = _running_pid(pidfile)
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                click.echo(f"stopped worker (pid {pid})")
            pidfile.unlink(missing_ok=True)
            subprocess.run([*voc, "stack", "down"], check=False)
            return
        run_demo(settings, sample or _repo_root() / DEMO_SAMPLE, voc, pidfile, timeout)


def run_demo(settings: Any, sample: Path, voc: list[str], pidfile: Path, timeout: float) -> None:
    """The demo's steps, in order; each prints what it did."""
    base = f"http://{settings.web_host}:{settings.web_port}"
    step = lambda text: click.secho(f"\n==> {text}", bold=True)  # noqa: E731

    step("starting the local stack (Kafka, OpenSearch, Prometheus, Alertmanager)")
    subprocess.run([*voc, "stack", "up"], check=True)
    step("creating topics")
    subprocess.run([*voc, "topics", "create"], check=True)

    step("starting the worker")
    if _running_pid(pidfile) is not None or http_json(base + "/health")[0] in (200, 503):
        click.echo(f"a worker already answers on {base}; reusing it")
        proc = None
    else:
        log_path = Path(settings.worker_data_dir) / "demo-worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
        proc = subprocess.Popen([*voc, "worker"], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        pidfile.write_text(str(proc.pid))
        click.echo(f"worker pid {proc.pid}, log {log_path}")
    health = wait_healthy(base, 180.0, proc)
    click.echo(f"healthy: kafka={health['kafka']['ok']} search={health['search']['ok']}")

    step("starting the operations console")
    password = ensure_demo_user(settings)
    start_console(settings, voc)

    step(f"replaying {sample}")
    before = worker_counts(base)
    sent = sum(1 for line in sample.read_bytes().splitlines() if line.strip())
    subprocess.run([*voc, "replay", "--retime", str(sample)], check=True)

    step("waiting until the worker has read and indexed everything")
    wait_processed(base, before, sent, timeout)
    asyncio_run = _asyncio_run
    count = asyncio_run(_wait_index_settled(settings, timeout, quiet_s=2.0))
    click.echo(f"{count} documents in alias {settings.search_alias}")

    step("what came out")
    summary = asyncio_run(_summary(settings))
    click.echo("by sentiment: " + ", ".join(f"{k} {v}" for k, v in summary["sentiment"]))
    click.echo("by topic:     " + ", ".join(f"{k} {v}" for k, v in summary["topics"]))
    click.echo(f"rants: {summary['rants']} (the most urgent five:)")
    for hit in summary["rant_hits"]:
        src = hit.source
        click.secho(f"\n  [{src['urgency']['level']}] {src['id']} ({src['brand']})", fg="red")
        click.echo(f"  customer: {src['text'][:200]}")
        click.echo(f"  why:      {'; '.join(src['urgency']['reasons'])}")
        reply = summary["replies"].get(src["id"])
        if reply:
            click.echo(f"  reply:    {reply}")

    step('a search: voc search "charged twice" --sentiment negative')
    subprocess.run([*voc, "search", "charged twice", "--sentiment", "negative"], check=False)

    step("metrics")
    status, text = http_json(base + "/metrics")
    if isinstance(text, str):
        for line in text.splitlines():
            if line.startswith(("voc_messages_in_total", "voc_enriched_total", "voc_rants_total",
                                "voc_deadletter_total", "voc_index_docs_total")):
                click.echo("  " + line)
    click.echo(f"\nmetrics:    curl {base}/metrics   (Prometheus: http://127.0.0.1:"
               f"{settings.stack.prometheus_port})")
    click.echo(f"health:     curl {base}/health")
    click.echo("search:     voc search QUERY [--sentiment negative] [--topic billing] [--rants]")
    url = console_url(settings)
    click.secho(f"\nconsole:    {url}/   log in as {DEMO_USER} / {password} (admin)", bold=True)
    click.echo(f"            the follow-up queue is {url}/followups")
    click.echo("stack, worker and console are still running; stop them with: voc demo --stop")


def worker_counts(base_url: str) -> dict[str, float]:
    """The worker's running totals that say how far it got (0 when /metrics is silent)."""
    status, text = http_json(base_url + "/metrics")
    out = {"in": 0.0, "enriched": 0.0, "indexed": 0.0, "dead": 0.0}
    if status != 200 or not isinstance(text, str):
        return out
    names = {"voc_messages_in_total": "in", "voc_enriched_total": "enriched",
             "voc_deadletter_total": "dead"}
    for line in text.splitlines():
        name, _, value = line.partition("{") if "{" in line else line.partition(" ")
        key = names.get(name)
        if key is None and line.startswith('voc_index_docs_total{result="ok"}'):
            key = "indexed"
        if key is not None:
            out[key] += float(line.rsplit(" ", 1)[1])
    return out


def wait_processed(base_url: str, before: dict[str, float], sent: int, timeout: float) -> None:
    """Wait until the worker has read every replayed record and indexed every enriched one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = worker_counts(base_url)
        read = now["in"] - before["in"]
        enriched = now["enriched"] - before["enriched"]
        indexed = now["indexed"] - before["indexed"]
        if read >= sent and indexed >= enriched:
            click.echo(f"  read {read:.0f}, enriched {enriched:.0f}, indexed {indexed:.0f}, "
                       f"dead-lettered {now['dead'] - before['dead']:.0f}")
            return
        time.sleep(1.0)
    raise click.ClickException(f"the worker did not catch up within {timeout:.0f}s")


def _asyncio_run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


async def _wait_index_settled(settings: Any, timeout: float, quiet_s: float = 6.0) -> int:
    """Poll the alias count until it has not changed for ``quiet_s`` (and is > 0)."""
    import asyncio

    from streams.search import make_backend

    backend = make_backend(settings)
    try:
        deadline = time.monotonic() + timeout
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            try:
                await backend.refresh()
                n = await backend.count()
            except Exception:
                n = -1
            if n != last:
                last, stable_since = n, time.monotonic()
                if n >= 0:
                    click.echo(f"  {n} indexed")
            elif n > 0 and time.monotonic() - stable_since >= quiet_s:
                return n
            await asyncio.sleep(1.0)
        raise click.ClickException(f"index did not settle within {timeout:.0f}s (last {last})")
    finally:
        await backend.close()


async def _summary(settings: Any) -> dict[str, Any]:
    """Counts by sentiment and topic (aggregations), the rants and their suggested replies."""
    from streams.search import make_backend

    backend = make_backend(settings)
    try:
        facets = await backend.facets(fields=("sentiment.label", "topics.name"))
        rant_hits = await backend.most_urgent(5)
        replies = _suggested_replies(settings, {h.id for h in rant_hits})
        return {
            "sentiment": facets["sentiment.label"],
            "topics": facets["topics.name"],
            "rants": facets["rants"],
            "rant_hits": rant_hits,
            "replies": replies,
        }
    finally:
        await backend.close()


def _suggested_replies(settings: Any, feedback_ids: set[str], timeout_s: float = 10.0
                       ) -> dict[str, str]:
    """Suggested replies for the given feedback ids, read back from ``voc.followups``."""
    from kafka import KafkaConsumer

    from streams.topics import kafka_client_kwargs

    cfg = kafka_client_kwargs(settings)
    consumer = KafkaConsumer(settings.topic("followups"), auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=int(timeout_s * 1000), **cfg)
    out: dict[str, str] = {}
    try:
        for msg in consumer:
            try:
                fu = json.loads(msg.value)
            except ValueError:
                continue
            if fu.get("feedback_id") in feedback_ids:
                out[fu["feedback_id"]] = fu.get("suggested_reply", "")
                if len(out) == len(feedback_ids):
                    break
    finally:
        consumer.close()
    return out
