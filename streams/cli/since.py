"""``--since``: a user's "24h", "7d" or ISO time, turned into a UTC datetime at the door.

Why in the CLI: relative times are a command-line convenience; below the CLI (the search
query, the sink) every time is already a datetime, so there is one parser and no layer
under the CLI needs to know the spelling.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """``24h`` / ``7d`` / ``30m`` relative to now, or an ISO-8601 timestamp (UTC if naive)."""
    if value is None:
        return None
    m = _RELATIVE.match(value)
    if m:
        delta = timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"--since: expected e.g. 24h, 7d or an ISO timestamp, got {value!r}") \
            from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def since_option(value: str | None) -> datetime | None:
    """``parse_since`` for a click option: a bad value is a usage error naming ``--since``."""
    try:
        return parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
