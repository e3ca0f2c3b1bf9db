"""``voc enrich`` (batch JSONL, no Kafka) and ``voc classify`` (one message, readable).

Both build the same ``Enricher`` the worker uses, from ``get_settings().enrich``;
models load only when a command runs, so ``voc --help`` stays instant. ``voc enrich``
pseudonymises customer ids with the worker's key (``streams.privacy``), so its output
links up with the worker's; it has no broker timestamp, so event times are taken as given.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from processors.pipeline import Enricher, EnrichResult


def _build_enricher() -> Enricher:
    from processors.pipeline import Enricher
    from streams.settings import get_settings

    # one-shot commands: lingua's models load only if a message needs them
    return Enricher(get_settings().enrich, warm_language=False)


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for n, line in enumerate(stream, start=1):
        if n == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a file saved with a UTF-8 byte-order mark (Windows editors)
        yield n, line.rstrip(b"\r\n")


def _write(out: IO[str], results: list[EnrichResult]) -> None:
    for r in results:
        out.write(r.feedback.model_dump_json() + "\n")
    out.flush()


def run_enrich(
    enricher: Enricher, src: IO[bytes], out: IO[str], err: IO[str], total_bytes: int | None,
    batch_size: int, pseudonym_key: bytes | None = None,
) -> tuple[int, int]:
    """Stream JSONL through the enricher in batches of ``batch_size``; return (enriched, bad).
    Bad lines -> ``err``. Contacts are counted as the worker counts them, on the customer's
    pseudonym when a ``pseudonym_key`` is given (as ``voc enrich`` does)."""
    from processors.pipeline import InvalidInput, parse_inbound
    from processors.pseudonym import pseudonymise_record
    from streams.contacts import RecentContacts

    counter = RecentContacts()
    batch: list[Any] = []
    counts: list[int] = []
    good = bad = 0
    progress = None
    if total_bytes is not None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        progress = Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
            TimeRemainingColumn(), console=Console(file=err), transient=False,
        )
        task = progress.add_task("enriching", total=total_bytes)
        progress.start()
    try:
        for n, line in _lines(src):
            if progress is not None:
                progress.advance(task, len(line) + 1)
            if not line.strip():
                continue  # blank lines are layout, not records
            try:
                item = parse_inbound(line, None)
            except InvalidInput as e:
                bad += 1
                msg = f"line {n}: {e.reason}: {e.detail}"
                if progress is not None:  # above the live bar, not through it
                    progress.console.print(msg, markup=False, highlight=False, soft_wrap=True)
                else:
                    err.write(msg + "\n")
                continue
            if pseudonym_key is not None:
                item = pseudonymise_record(item, pseudonym_key)
            batch.append(item)
            counts.append(counter.observe_record(item))
            if len(batch) >= batch_size:
                _write(out, enricher.enrich_batch(batch, counts))
                good += len(batch)
                batch, counts = [], []
        if batch:
            _write(out, enricher.enrich_batch(batch, counts))
            good += len(batch)
    finally:
        if progress is not None:
            progress.stop()
    return good, bad


def _format(result: EnrichResult) -> str:
    fb = result.feedback
    lines = [f"text:      {fb.text}"]
    lang = fb.language + ("" if fb.language_supported else "  (not a supported language: "
                          "the models may be out of their depth)")
    lines.append(f"language:  {lang}")
    if fb.opt_out:
        lines.append("opt-out:   yes (STOP-style keyword; not treated as a complaint)")
    lines.append(f"sentiment: {fb.sentiment.label} ({fb.sentiment.score:+.2f})")
    top = sorted(fb.emotion.scores.items(), key=lambda kv: -kv[1])[:3]
    lines.append(f"emotion:   {fb.emotion.label}  (" +
                 ", ".join(f"{k} {v:.2f}" for k, v in top) + ")")
    if fb.topics:
        lines.append("topics:")
        lines += [f"  - {t.name} {t.confidence:.2f}  \"{t.evidence}\"" for t in fb.topics]
    else:
        lines.append("topics:    (none)")
    lines.append(f"intensity: {fb.intensity:.2f}  (how upset, 0-1)")
    lines.append(f"urgency:   {fb.urgency.level} ({fb.urgency.score:.2f})")
    lines += [f"  - {r}" for r in fb.urgency.reasons]
    lines.append(f"rant:      {'yes' if fb.is_rant else 'no'}")
    if fb.pii.redacted:
        lines.append(f"pii:       redacted {', '.join(fb.pii.kinds)}")
    if result.followup is not None:
        fu = result.followup
        lines.append(f"follow-up: {fu.priority}, due {fu.due_by.isoformat(timespec='minutes')}")
        lines.append(f"summary:   {fu.summary}")
        lines.append(f"suggested reply: {fu.suggested_reply}")
    lines.append(f"model:     {fb.model.encoder}, {fb.model.version}")
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    """Attach this module's commands to the voc group."""

    @cli.command("enrich")
    @click.option("--input", "-i", "input_path", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="JSONL of inbound SMS/survey records (default: stdin).")
    @click.option("--output", "-o", "output_path", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="EnrichedFeedback JSONL, same order (default: stdout).")
    def enrich(input_path: Path | None, output_path: Path | None) -> None:
        """Enrich a JSONL file without Kafka; bad lines go to stderr (exit 1 if any)."""
        if input_path is not None and not input_path.is_file():
            raise click.BadParameter(f"{input_path} is not a file", param_hint="--input")
        from streams.privacy import load_pseudonym_key
        from streams.settings import get_settings

        key = load_pseudonym_key(get_settings())
        enricher = _build_enricher()
        src = input_path.open("rb") if input_path else sys.stdin.buffer
        out = output_path.open("w", encoding="utf-8") if output_path else sys.stdout
        total = input_path.stat().st_size if input_path and sys.stderr.isatty() else None
        try:
            good, bad = run_enrich(enricher, src, out, sys.stderr, total,
                                   batch_size=get_settings().batch_size, pseudonym_key=key)
        finally:
            if input_path:
                src.close()
            if output_path:
                out.close()
        click.echo(f"enriched {good} record(s), {bad} bad line(s)", err=True)
        if bad:
            sys.exit(1)

    @cli.command("pseudonym")
    @click.argument("customer_ids", nargs=-1, required=True)
    def pseudonym(customer_ids: tuple[str, ...]) -> None:
        """The pseudonym each customer id has in records and the index (the worker's key)."""
        from processors.pseudonym import pseudonymise_customer
        from streams.privacy import load_pseudonym_key
        from streams.settings import get_settings

        key = load_pseudonym_key(get_settings())
        for cid in customer_ids:
            click.echo(f"{cid}\t{pseudonymise_customer(cid.strip(), key)}")

    @cli.command("classify")
    @click.argument("text")
    @click.option("--json", "as_json", is_flag=True, help="Print the EnrichedFeedback JSON.")
    @click.option("--contacts", type=int, default=0,
                  help="Contacts this customer made in 7 days, this one included.")
    def classify(text: str, as_json: bool, contacts: int) -> None:
        """Enrich one message and explain the result."""
        from schemas.records import InboundSMS

        enricher = _build_enricher()
        item = InboundSMS.model_validate({
            "message_id": "classify", "from": "cli", "body": text,
            "received_at": datetime.now(UTC), "brand": "cli",
        })
        (result,) = enricher.enrich_batch([item], [contacts])
        if as_json:
            doc: dict[str, Any] = json.loads(result.feedback.model_dump_json())
            if result.followup is not None:
                doc["followup"] = json.loads(
                    result.followup.model_dump_json(exclude={"feedback"}))
            click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        else:
            click.echo(_format(result))
