"""Placeholder for console-ops's page (replaced by theirs)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Routes come with the real page."""
