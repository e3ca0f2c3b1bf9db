"""Event-time sanity: a message's own timestamp is trusted only near the broker's.

Why: ``received_at`` comes from the gateway's clock. A wrong clock (year 0001, 9999, a
phone in the wrong decade) would open its own monthly index, put a follow-up deadline
centuries away and, being the newest contact, drop a customer's contact history. The
broker's timestamp (``LogAppendTime`` on the inbound topics) is when the record reached
us; a claimed time further from it than the skew window allows is replaced by it, and the
record says so (``time_corrected``), so nothing is lost and the correction is visible.
Pure: the caller passes both times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class SkewWindow:
    """How far a claimed event time may lie after (clock skew) or before (a gateway's
    backlog, a replay) the broker's timestamp of the record."""

    max_future: timedelta = timedelta(minutes=5)
    max_past: timedelta = timedelta(days=365)


@dataclass(frozen=True)
class EventTime:
    """The time to use for a message, and whether it replaced the claimed one."""

    at: datetime
    corrected: bool


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def check_event_time(claimed: datetime, reference: datetime, window: SkewWindow) -> EventTime:
    """``claimed`` when it lies within ``[reference - max_past, reference + max_future]``
    (both edges included), else ``reference`` with ``corrected=True``. Naive times are UTC."""
    claimed, reference = _utc(claimed), _utc(reference)
    try:
        lo = reference - window.max_past
    except OverflowError:  # a reference near year 1: nothing can be older
        lo = datetime.min.replace(tzinfo=UTC)
    try:
        hi = reference + window.max_future
    except OverflowError:
        hi = datetime.max.replace(tzinfo=UTC)
    if lo <= claimed <= hi:
        return EventTime(claimed, False)
    return EventTime(reference, True)
