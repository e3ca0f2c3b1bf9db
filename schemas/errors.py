"""One way to say what was wrong with a record, without repeating what it contained.

Why here: the enrichment (``processors.pipeline``), the taxonomy loader and the dead-letter
builder (``streams.deadletter``) all turn a pydantic ``ValidationError`` into a short text
that ends up in logs, dead letters and dashboards. The input values may hold personal data,
so only field paths and rule messages are kept; one formatter keeps that promise once.
"""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(
    error: ValidationError, *, limit: int | None = None, top: str = "(record)"
) -> str:
    """``"loc: msg; loc: msg"`` for the first ``limit`` errors (all if None), then
    ``"; and N more"``; a top-level error's location reads ``top``. Never the input."""
    errors = error.errors(include_input=False, include_url=False, include_context=False)
    shown = errors if limit is None else errors[:limit]
    text = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or top}: {err['msg']}" for err in shown
    )
    more = len(errors) - len(shown)
    return text + (f"; and {more} more" if more > 0 else "")
