"""``voc stack up|down|status`` and ``voc topics create``: the local stack without Docker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from streams.settings import Settings

T = TypeVar("T")


def _only(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _on_stack(only: str | None, action: Callable[[Settings, list[str] | None], T]) -> T:
    """Run a stack action on the ``--only`` services; a StackError becomes a plain CLI error
    (the stack modules are imported here, lazily, to keep ``voc --help`` fast)."""
    from streams.settings import get_settings
    from streams.stack import StackError

    try:
        return action(get_settings(), _only(only))
    except StackError as exc:
        raise click.ClickException(str(exc)) from exc


_ONLY = click.option(
    "--only",
    metavar="NAMES",
    help="Comma-separated subset: kafka,opensearch,prometheus,alertmanager.",
)


def register(cli: click.Group) -> None:
    """Attach this module's commands to the voc group."""

    @cli.group()
    def stack() -> None:
        """Local Kafka, OpenSearch, Prometheus and Alertmanager (no Docker)."""

    @stack.command("up")
    @_ONLY
    @click.option("--no-topics", is_flag=True, help="Do not create the contract topics.")
    def stack_up(only: str | None, no_topics: bool) -> None:
        """Start what is down, wait until healthy, create topics (idempotent)."""
        from streams.stack import up

        _on_stack(only, lambda settings, names: up(
            settings, names, create_topics=not no_topics, report=click.echo))

    @stack.command("down")
    @_ONLY
    def stack_down(only: str | None) -> None:
        """Stop the processes that `voc stack up` started (by PID file)."""
        from streams.stack import down

        _on_stack(only, lambda settings, names: down(settings, names, report=click.echo))

    @stack.command("status")
    @_ONLY
    def stack_status(only: str | None) -> None:
        """Up/down per service; exit 1 unless every service is up."""
        from streams.stack import status

        statuses = _on_stack(only, status)
        for st in statuses:
            pid = f"pid {st.pid}" if st.pid else "-"
            rss = f"{st.rss_bytes / 2**20:.0f} MiB" if st.rss_bytes else ""
            click.echo(f"{st.name:<13}{st.state:<10} {st.address:<16} {pid:<11} {rss:<9}"
                       f" log: {st.log_file}")
        if any(st.state != "up" for st in statuses):
            raise SystemExit(1)

    @cli.group()
    def topics() -> None:
        """Kafka topics of the contract."""

    @topics.command("create")
    def topics_create() -> None:
        """Create every contract topic with its partitions and configs (idempotent)."""
        from streams.kafka_check import KafkaUnavailable
        from streams.settings import get_settings
        from streams.topics import create_topics

        try:
            outcomes = create_topics(get_settings())
        except KafkaUnavailable as exc:
            raise click.ClickException(str(exc)) from exc
        for name, outcome in outcomes.items():
            click.echo(f"{name:<32}{outcome}")
