"""The ``voc`` command: one click group, one module per concern.

Each subcommand lives in its own module under ``streams/cli/`` and imports
heavy things (torch, Faust, clients) only when it runs, so ``voc --help``
and ``voc stack status`` stay instant.
"""

from __future__ import annotations

import click

from streams.cli import (
    console_cmd,
    enrich_cmd,
    models_cmd,
    pipeline_cmd,
    replay_cmd,
    search_cmd,
    stack_cmd,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="voc-pipeline")
def cli() -> None:
    """voc-pipeline: streaming voice-of-customer enrichment."""


stack_cmd.register(cli)
enrich_cmd.register(cli)
pipeline_cmd.register(cli)
replay_cmd.register(cli)
search_cmd.register(cli)
console_cmd.register(cli)
models_cmd.register(cli)


def main() -> None:
    """Run the group; settings refused at start-up (``ConfigError``) end in one clear line."""
    from streams.settings import ConfigError

    try:
        cli()
    except ConfigError as exc:
        click.echo(f"voc: configuration refused: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
