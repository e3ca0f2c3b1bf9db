"""The repeat-contact count (streams/contacts.py): sliding 7 days by event time, each message
counted once however often it is delivered, future dates clipped, bounded history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import InboundSMS, SurveyReply
from streams.contacts import (
    CONTACT_WINDOW,
    MAX_KEPT,
    Contact,
    KnownCounts,
    RecentContacts,
    contact_of,
    count_contact,
    is_stale,
    key_partition,
    record_contact,
    sender_pseudonym,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = 86400.0


def c(mid: str, days: float, customer: str = "C1") -> Contact:
    return Contact(customer, mid, T0.timestamp() + days * DAY)


def sms(mid: str, at: datetime, customer: str | None = "C1") -> InboundSMS:
    return InboundSMS.model_validate({"message_id": mid, "from": "+447700900123", "body": "x",
                                      "received_at": at, "brand": "acme",
                                      "customer_id": customer})


def test_the_window_slides_with_each_message_not_calendar_weeks() -> None:
    store: dict[str, list[list[object]]] = {}
    assert [count_contact(store, x) for x in (c("a", 0), c("b", 3), c("c", 6.9), c("d", 9))] \
        == [1, 2, 3, 3]  # at day 9, "a" (day 0) fell out; "b" (day 3) is 6 days back
    assert count_contact(store, c("e", 10.5)) == 3  # [3.5, 10.5]: c, d and e


def test_the_window_includes_exactly_seven_days() -> None:
    assert record_contact(record_contact(None, c("a", 0))[0], c("b", 7))[1] == 2
    assert record_contact(record_contact(None, c("a", 0))[0], c("b", 7.0001))[1] == 1


def test_a_redelivered_message_gets_its_first_count_and_writes_nothing() -> None:
    writes: list[str] = []

    class Store(dict[str, object]):
        def __setitem__(self, key: str, value: object) -> None:
            writes.append(key)
            super().__setitem__(key, value)

    store = Store()
    counts = [count_contact(store, x) for x in (c("a", 0), c("b", 1), c("a", 0), c("c", 2))]
    assert counts == [1, 2, 1, 3]
    assert len(writes) == 3  # the redelivery of "a" sent no changelog record


def test_a_late_message_counts_the_week_before_it() -> None:
    store: dict[str, object] = {}
    for x in (c("a", 0), c("b", 10)):
        count_contact(store, x)
    assert count_contact(store, c("late", 5)) == 2  # "a" at day 0 is within its 7 days


def test_customers_are_counted_apart() -> None:
    store: dict[str, object] = {}
    assert [count_contact(store, x) for x in (c("a", 0, "X"), c("b", 0, "Y"), c("c", 1, "X"))] \
        == [1, 1, 2]


def test_history_is_bounded_per_customer() -> None:
    history: list[list[object]] | None = None
    for i in range(MAX_KEPT + 50):
        history, count = record_contact(history, c(f"m{i}", i / 10_000))
    assert history is not None and len(history) == MAX_KEPT
    assert count == MAX_KEPT + 1  # counted before trimming: exact up to the cap


def test_old_contacts_are_pruned_after_two_windows() -> None:
    history, _ = record_contact(None, c("a", 0))
    history, _ = record_contact(history, c("b", 14.5))
    assert [mid for _, mid in history] == ["b"]


def test_a_future_date_is_clipped_to_now_and_keeps_the_history() -> None:
    store: dict[str, object] = {}
    now = T0 + timedelta(days=3)
    for i in range(3):
        count_contact(store, c(f"m{i}", i))
    future = contact_of(sms("future", T0 + timedelta(days=400)), now=now)
    assert future is not None and future.at == now.timestamp()
    assert count_contact(store, future) == 4
    assert count_contact(store, c("next", 3.5)) == 5  # nothing was pushed out of the window


def test_contact_time_is_the_event_time_or_the_checked_time() -> None:
    at = T0 + timedelta(hours=5)
    assert contact_of(sms("SM1", at), now=T0 + timedelta(3)) == \
        Contact("C1", "sms:SM1", at.timestamp())
    checked = T0 + timedelta(hours=1)  # what check_event_time settled on
    assert contact_of(sms("SM1", at), at=checked, now=T0 + timedelta(3)) == \
        Contact("C1", "sms:SM1", checked.timestamp())


def test_the_customer_key_is_the_record_customer_else_the_sender() -> None:
    assert contact_of(sms("SM1", T0, customer=None), now=T0) == \
        Contact("+447700900123", "sms:SM1", T0.timestamp())
    key = b"contacts-test-key-0123456789"
    keyed = contact_of(sms("SM1", T0, customer=None), sender_key=key, now=T0)
    assert keyed is not None and keyed.customer == sender_pseudonym("+447700900123", key)
    assert keyed.customer.startswith("snd_") and "7700" not in keyed.customer
    assert contact_of(sms("SM1", T0), sender_key=key, now=T0).customer == "C1"  # type: ignore[union-attr]
    reply = SurveyReply.model_validate({
        "response_id": "R1", "survey_id": "S", "customer_id": "C9", "brand": "acme",
        "submitted_at": "2026-11-01T00:00:00", "kind": "nps", "score": 3, "comment": ""})
    assert contact_of(reply, now=T0 + timedelta(days=1)) == \
        Contact("C9", "survey:R1", T0.timestamp())  # a naive time is UTC


def test_key_partition_is_the_producers_partition() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in ("C1", "cid_0123456789abcdef", "snd_ff", "ünïcode"):
        for n in (1, 4, 12):
            assert key_partition(key, n) == DefaultPartitioner()(
                key.encode("utf-8"), list(range(n)), list(range(n)))


def test_a_customer_is_stale_after_two_windows_without_contact() -> None:
    now = T0.timestamp()
    assert is_stale(None, now) and is_stale([], now)
    assert not is_stale([[now - 13.9 * DAY, "a"]], now)
    assert is_stale([[now - 14.1 * DAY, "a"]], now)
    assert not is_stale([[now - 20 * DAY, "a"], [now - DAY, "b"]], now)


def test_recent_contacts_and_known_counts_answer_per_record() -> None:
    rc = RecentContacts(max_customers=2)
    items = [sms("1", T0), sms("2", T0 + timedelta(days=1)), sms("3", T0, customer="D")]
    assert [rc.observe_record(i) for i in items] == [1, 2, 1]
    assert rc.observe("E", "e", T0) == 1 and rc.get("C1") is None  # the LRU dropped C1
    assert rc.observe(None, "x", T0) == 0
    known = KnownCounts({"sms:1": 4})
    assert [known.observe_record(i) for i in items[:2]] == [4, 0]


def test_contacts_at_the_same_time_are_counted_in_message_id_order() -> None:
    store: dict[str, object] = {}
    assert [count_contact(store, x) for x in (c("a", 1), c("b", 1), c("a", 1))] == [1, 2, 1]
    # "b" arriving first is like a late message: "a" sorts before it once known
    other: dict[str, object] = {}
    assert [count_contact(other, x) for x in (c("b", 1), c("a", 1), c("b", 1))] == [1, 1, 2]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("XYZ"), st.integers(0, 40), st.integers(0, 30 * 24)),
                max_size=40),
       st.lists(st.integers(0, 39), max_size=10))
def test_counts_match_a_brute_force_count_with_redeliveries(
        msgs: list[tuple[str, int, int]], redeliver: list[int]) -> None:
    """Messages in time order (hours), some delivered again after the rest: every delivery's
    count is the number of distinct messages of its customer in the 7 days up to it (ties in
    time ordered by message id)."""
    first: dict[str, tuple[str, int]] = {}  # message -> (customer, hours)
    for customer, n, hours in msgs:
        first.setdefault(f"{customer}{n}", (customer, hours))
    order = sorted(first, key=lambda m: (first[m][1], m))
    deliveries = [Contact(first[m][0], m, T0.timestamp() + first[m][1] * 3600) for m in order]
    span_h = CONTACT_WINDOW.total_seconds() / 3600
    newest = {cu: max(t for c2, t in first.values() if c2 == cu) for cu, _ in first.values()}
    # the table keeps two windows: exact for a message at most 7 days behind its customer's
    # newest contact (a redelivery comes seconds after the first delivery, not a week)
    deliveries += [d for d in (deliveries[i] for i in redeliver if i < len(deliveries))
                   if first[d.message_id][1] >= newest[d.customer] - span_h]
    store: dict[str, object] = {}
    for d in deliveries:
        customer, at = first[d.message_id]
        expected = sum(1 for m, (cu, t) in first.items()
                       if cu == customer and at - span_h <= t and (t, m) <= (at, d.message_id))
        assert count_contact(store, d) == expected
