"""Placeholder: replaced in the next commit."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Routes come with the real page."""
