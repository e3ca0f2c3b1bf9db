"""``voc replay FILE``: produce inbound records to their topics, rate-limited, with progress."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def register(cli: click.Group) -> None:
    """Attach ``replay`` to the voc group."""

    @cli.command("replay")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--rate", type=float, default=None,
                  help="Messages per second (token bucket); default: as fast as possible.")
    @click.option("--topic-prefix", default=None,
                  help="Prefix for topic names (default: VOC_TOPIC_PREFIX).")
    @click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default: settings).")
    @click.option("--limit", type=int, default=None, help="Send at most N lines.")
    @click.option("--retime", is_flag=True,
                  help="Set received_at/submitted_at of SMS/survey lines to the send time "
                  "(re-serialises those lines; for demos and end-to-end latency).")
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def replay_cmd(file: Path, rate: float | None, topic_prefix: str | None,
                   bootstrap: str | None, limit: int | None, retime: bool, as_json: bool,
                   quiet: bool) -> None:
        """Send each line of FILE (JSONL of inbound SMS / survey records) to Kafka.

        Lines with "message_id" go to the SMS inbound topic keyed by sender (or message id);
        lines with "response_id" go to the survey topic keyed by response id. Replay does not
        validate: lines it cannot classify (invalid JSON, unknown shape) are sent as raw bytes
        to the SMS inbound topic so the worker dead-letters them - this is how bad input is
        tested end to end. Blank lines are skipped; without --retime every line is sent
        byte for byte. Producer: acks=all, idempotent.
        """
        import itertools

        from kafka import KafkaProducer
        from kafka.errors import KafkaError
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from streams.replay import producer_config, read_lines, replay
        from streams.settings import get_settings

        settings = get_settings()
        err = Console(stderr=True)
        total = sum(1 for _ in read_lines(file))
        if limit is not None:
            total = min(total, limit)
        lines = itertools.islice(read_lines(file), limit)
        try:
            producer = KafkaProducer(**producer_config(settings, bootstrap))
        except KafkaError as exc:
            from streams.kafka_check import connect_error

            target = settings.model_copy(update={"kafka_bootstrap": bootstrap}) if bootstrap \
                else settings
            raise click.ClickException(f"{connect_error(target, exc)} "
                                       "(is the stack up? `voc stack up`)") from exc
        progress = Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                            console=err, disable=quiet, transient=False)
        try:
            with progress:
                task = progress.add_task("replay", total=total, rate="")
                state = {"n": 0}

                def tick(n: int) -> None:
                    state["n"] += n
                    if state["n"] % 25 == 0 or state["n"] == total:
                        el = progress.tasks[0].elapsed or 0.0
                        r = f"{state['n'] / el:.0f}/s" if el > 0 else ""
                        progress.update(task, completed=state["n"], rate=r)

                summary = replay(lines, producer, settings, rate=rate, topic_prefix=topic_prefix,
                                 on_sent=tick, retime_to_now=retime)
                progress.update(task, completed=state["n"])
        finally:
            producer.close(timeout=10)
        if as_json:
            click.echo(json.dumps(summary.as_dict()))
        else:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_kind.items()))
            topics = ", ".join(f"{t} {n}" for t, n in sorted(summary.by_topic.items()))
            click.echo(f"sent {summary.sent} in {summary.elapsed_s:.1f}s "
                       f"({summary.rate:.0f}/s): {kinds}")
            click.echo(f"topics: {topics}")
            if summary.failed:
                click.echo(f"FAILED {summary.failed}: " + "; ".join(summary.errors[:3]),
                           err=True)
        if summary.failed:
            sys.exit(1)
