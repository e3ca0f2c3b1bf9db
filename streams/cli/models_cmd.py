"""``voc models``: build the int8 encoder graph into the model cache ahead of first use.

Why a command: an image build or a deploy step can pay the few seconds of building once
(``voc models build``), so no worker start does; without it the first start builds.
"""

from __future__ import annotations

import json
import time

import click


def register(cli: click.Group) -> None:
    """Add the ``models`` group to the ``voc`` command."""

    @cli.group("models")
    def models() -> None:
        """The encoder graph cache (~/.cache/voc-pipeline/models by default)."""

    @models.command("build")
    @click.option("--force", is_flag=True, help="Rebuild even if a valid cached graph exists.")
    def build(force: bool) -> None:
        """Build (or verify) the cached int8 graph for the configured encoder and heads."""
        from pathlib import Path

        from processors import model_cache
        from processors.config import resolve_model_dir
        from processors.model_files import heads_file
        from streams.settings import get_settings

        cfg = get_settings().enrich.model
        t0 = time.perf_counter()
        cached = model_cache.build(Path(resolve_model_dir(cfg.encoder, cfg.cache_dir)),
                                   (Path(cfg.heads_path) if cfg.heads_path
                                    else heads_file(cfg.encoder)),
                                   cfg.cache_dir, force=force)
        click.echo(json.dumps({"path": str(cached.path), "built": cached.built,
                               "bytes": len(cached.graph),
                               "seconds": round(time.perf_counter() - t0, 2)}))

    @models.command("path")
    def path() -> None:
        """Print where the configured encoder's graph is (or will be) cached."""
        from processors.encoder import describe
        from streams.settings import get_settings

        click.echo(json.dumps(describe(get_settings().enrich.model), indent=2))
