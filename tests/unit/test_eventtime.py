"""processors.eventtime: a claimed event time is kept only within the skew window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from processors.eventtime import SkewWindow, check_event_time

REF = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
WINDOW = SkewWindow(max_future=timedelta(minutes=5), max_past=timedelta(days=30))


def test_within_the_window_the_claimed_time_is_kept() -> None:
    for claimed in (REF, REF - timedelta(hours=3), REF + timedelta(minutes=4)):
        got = check_event_time(claimed, REF, WINDOW)
        assert not got.corrected and got.at == claimed


def test_both_edges_are_inside_and_one_microsecond_past_them_is_corrected() -> None:
    future_edge, past_edge = REF + timedelta(minutes=5), REF - timedelta(days=30)
    assert check_event_time(future_edge, REF, WINDOW).corrected is False
    assert check_event_time(past_edge, REF, WINDOW).corrected is False
    tick = timedelta(microseconds=1)
    for claimed in (future_edge + tick, past_edge - tick):
        got = check_event_time(claimed, REF, WINDOW)
        assert got.corrected and got.at == REF


def test_future_and_ancient_extremes_become_the_reference() -> None:
    for claimed in (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)):
        got = check_event_time(claimed, REF, WINDOW)
        assert got.corrected and got.at == REF


def test_naive_times_are_utc_and_references_near_the_ends_of_time_do_not_overflow() -> None:
    assert check_event_time(datetime(2026, 11, 25, 17, 0), REF, WINDOW).corrected is False
    low = datetime(1, 1, 2, tzinfo=UTC)
    assert check_event_time(datetime(1, 1, 1, tzinfo=UTC), low, WINDOW).corrected is False
    high = datetime(9999, 12, 31, 23, 58, tzinfo=UTC)
    assert check_event_time(datetime(9999, 12, 31, 23, 59, tzinfo=UTC), high, WINDOW
                            ).corrected is False


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_the_result_is_always_within_the_window(claimed: datetime, ref: datetime) -> None:
    got = check_event_time(claimed, ref, WINDOW)
    assert got.at in (claimed, ref)
    if got.at == claimed and claimed != ref:
        assert ref - WINDOW.max_past <= claimed <= ref + WINDOW.max_future
