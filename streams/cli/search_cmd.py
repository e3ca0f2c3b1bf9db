"""``voc search QUERY``: find feedback in the index, with highlights."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from schemas.labels import SENTIMENT_LABELS
from streams.cli.since import since_option

SENTIMENT_STYLE = {"negative": "red", "neutral": "yellow", "positive": "green"}


def highlight_text(fragment: str) -> Any:
    """A rich Text for one fragment with the engine's [[...]] marks shown bold (no markup
    parsing of customer text, so brackets in a message can never break the output)."""
    from rich.text import Text

    out = Text("   ")
    bold = False
    for part in re.split(r"(\[\[|\]\])", fragment):
        if part == "[[":
            bold = True
        elif part == "]]":
            bold = False
        elif part:
            out.append(part, style="bold reverse" if bold else None)
    return out


def _render(hits: list[Any], total_hint: int) -> None:
    from rich.console import Console
    from rich.markup import escape

    con = Console()
    if not hits:
        con.print("no matching feedback")
        return
    for h in hits:
        s = h.source
        sent = s.get("sentiment", {}) or {}
        label = sent.get("label", "?")
        topics = ", ".join(t.get("name", "?") for t in s.get("topics", []) or []) or "-"
        urgency = (s.get("urgency") or {}).get("level", "?")
        rant = " [bold red]RANT[/]" if s.get("is_rant") else ""
        con.print(f"[bold]{escape(h.id)}[/]  {escape(str(s.get('received_at', '')))}  "
                  f"{escape(str(s.get('channel', '')))}/{escape(str(s.get('brand', '')))}  "
                  f"[{SENTIMENT_STYLE.get(label, 'white')}]{escape(label)} "
                  f"{sent.get('score', 0):+.2f}[/]  urgency {escape(urgency)}  "
                  f"topics {escape(topics)}{rant}")
        if h.highlights:
            for frag in h.highlights:
                con.print(highlight_text(frag))
        else:
            text = str(s.get("text", ""))
            con.print("   " + escape(text[:300] + ("…" if len(text) > 300 else "")))
    con.print(f"[dim]{len(hits)} shown[/]")


def register(cli: click.Group) -> None:
    """Attach ``search`` to the voc group."""

    @cli.command("search")
    @click.argument("query", required=False, default="")
    @click.option("--sentiment", type=click.Choice(list(SENTIMENT_LABELS)),
                  default=None, help="Only this sentiment.")
    @click.option("--subject", "--topic", "subject", default=None,
                  help="Only this taxonomy subject (e.g. billing).")
    @click.option("--rants", is_flag=True, help="Only rants.")
    @click.option("--since", default=None, help="Received since: 24h, 7d, 30m or ISO time.")
    @click.option("--size", type=click.IntRange(1, 1000), default=20, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per hit.")
    def search_cmd(query: str, sentiment: str | None, subject: str | None, rants: bool,
                   since: str | None, size: int, as_json: bool) -> None:
        """Search enriched feedback. QUERY is plain words; quotes, AND/OR/NOT (+ | -) and
        prefix* work; it is never parsed as engine query syntax. Empty QUERY lists the newest.
        """
        import asyncio

        from streams.search import SearchUnavailable, make_backend
        from streams.security import mask_url
        from streams.settings import get_settings

        since_ts = since_option(since)

        async def run() -> list[Any]:
            backend = make_backend(get_settings())
            try:
                return await backend.search(query, sentiment=sentiment, subject=subject,
                                            rants=rants, since=since_ts, size=size)
            finally:
                await backend.close()

        settings = get_settings()
        try:
            hits = asyncio.run(run())
        except SearchUnavailable as exc:
            raise click.ClickException(
                f"search engine at {mask_url(settings.search_url)} unavailable: {exc}") from exc
        except Exception as exc:
            if "index_not_found" in str(exc) or type(exc).__name__ == "NotFoundError":
                raise click.ClickException(
                    f"no index behind alias {settings.search_alias!r} yet: start the worker "
                    "(`voc worker`) and replay some messages") from exc
            raise
        if as_json:
            for h in hits:
                click.echo(json.dumps({"id": h.id, "score": h.score,
                                       "highlights": h.highlights, **h.source},
                                      ensure_ascii=False, default=str))
        else:
            _render(hits, len(hits))
