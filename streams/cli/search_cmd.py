"""Placeholder: filled in by its owner (see module name)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Attach this module's commands to the voc group."""
