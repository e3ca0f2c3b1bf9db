"""The one contact counter behind "3rd contact in 7 days" (the worker and ``voc enrich``).

A customer's history is a short list of ``[time, message id]`` pairs, sorted by time: the
count for a message is how many distinct messages of that customer fall in the 7 days up to
its own time. Why a list of timestamps and not a Faust tumbling/hopping windowed table:

* a tumbling window counts per fixed bucket (calendar weeks), not "the 7 days before this
  message"; a hopping window only approximates a sliding one to its hop size;
* windowed counters add 1 per delivery, so a message read again after a crash (Kafka is at
  least once) would be counted twice. The list keeps message ids, so a redelivered message
  finds itself and gets the same count as the first time: exact, and replay-stable.

The worker keeps these lists in a changelogged Faust table keyed by customer (see
``streams.handlers.contacts``: inbound records are re-keyed by customer through the
``contacts`` topic first), so every message of a customer is counted by the one worker that
owns the customer's partition, and the counts survive restarts. ``voc enrich`` (one process
over a file) keeps the same lists in memory (``RecentContacts``).

Times are event times (the message's own timestamp), so a replay of old data counts the way
it happened. The worker passes the time ``processors.eventtime.check_event_time`` settled on
(a claimed time too far from the broker's timestamp is replaced by it, as in the enriched
record), and ``contact_of`` clips it to the worker's clock, so a wrong clock cannot push a
customer's history out of the window. The customer key is the record's customer id (the
worker's pseudonym by then), else the SMS sender, pseudonymised under the same key: the
contacts topic and the table's changelog never carry a phone number. ``contact_of`` is the
one place that picks the customer key, the message id and the time: change them there.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiokafka.partitioner import murmur2

from processors.pseudonym import keyed_digest
from schemas.records import InboundSMS, SurveyReply

CONTACT_WINDOW = timedelta(days=7)
#: History is kept for two windows, so a message that arrives up to 7 days late (out of
#: order) still sees every contact of the 7 days before it.
KEEP_WINDOWS = 2
#: At most this many contacts are kept per customer (the newest): a sender flooding the
#: gateway must not grow one table value (and its changelog record) without bound. Counts
#: are exact up to this number; the urgency cue saturates at 4.
MAX_KEPT = 256

History = list[list[Any]]
"""``[[epoch seconds, message id], ...]`` sorted by time: JSON as it is (the table's values)."""


@dataclass(frozen=True)
class Contact:
    """One message of one customer: who, which message (the feedback id) and when."""

    customer: str
    message_id: str
    at: float  # epoch seconds, event time clipped to ``contact_of``'s ceiling


def message_id_of(item: InboundSMS | SurveyReply) -> str:
    """The contact's id: the feedback id the enrichment gives the message (``sms:<id>``)."""
    if isinstance(item, SurveyReply):
        return f"survey:{item.response_id}"
    return f"sms:{item.message_id}"


def sender_pseudonym(sender: str, key: bytes) -> str:
    """The contact key of an SMS without a customer id: its sender, keyed-hashed like a
    customer id (``processors.pseudonym``) but under its own purpose."""
    return "snd_" + keyed_digest(sender.encode("utf-8"), key, "sms_sender")[:32]


def contact_of(item: InboundSMS | SurveyReply, *, at: datetime | None = None,
               sender_key: bytes | None = None, now: datetime | None = None) -> Contact | None:
    """The contact ``item`` makes, or None without a customer key.

    The customer key is the record's ``customer_id`` as it stands (pseudonymise the record
    first); an SMS without one falls back to its sender, pseudonymised with ``sender_key``
    when given. The time is ``at`` (the checked event time) or the message's own (UTC when
    naive), clipped to ``now``: a future-dated message counts as arriving now.
    """
    customer: str | None
    if isinstance(item, SurveyReply):
        customer, claimed = item.customer_id, item.submitted_at
    else:
        customer, claimed = item.customer_id, item.received_at
        if not customer and item.sender:
            customer = (sender_pseudonym(item.sender, sender_key) if sender_key is not None
                        else item.sender)
    if not customer:
        return None
    at = at or claimed
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return Contact(customer, message_id_of(item), min(at, now or datetime.now(UTC)).timestamp())


def record_contact(history: Sequence[Sequence[Any]] | None, contact: Contact,
                   window: timedelta = CONTACT_WINDOW) -> tuple[History, int]:
    """``history`` with ``contact`` added (once per message id) and pruned, and the number
    of contacts (this one included) in the window ending at the contact.

    Contacts are ordered by (time, message id), so two at the same second are counted in one
    order whichever arrives first. A message already in the history keeps its first time and
    gets the same count again (unless a late message has arrived in its window meanwhile).
    """
    span = window.total_seconds()
    kept: History = [[float(t), str(mid)] for t, mid in (history or ())]
    mine = next((e for e in kept if e[1] == contact.message_id), None)
    if mine is None:
        mine = [contact.at, contact.message_id]
        bisect.insort(kept, mine)
    at = mine[0]
    count = sum(1 for e in kept if at - span <= e[0] and e <= mine)
    newest = kept[-1][0]
    return [e for e in kept if e[0] >= newest - KEEP_WINDOWS * span][-MAX_KEPT:], count


def is_stale(history: Sequence[Sequence[Any]] | None, now: float,
             window: timedelta = CONTACT_WINDOW) -> bool:
    """No contact in the two windows before ``now``: nothing the table keeps is left, so the
    customer's entry can go (the worker sweeps these, so the table holds active customers)."""
    if not history:
        return True
    return max(float(t) for t, _ in history) < now - KEEP_WINDOWS * window.total_seconds()


def key_partition(customer: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, the producer's) gives a customer
    key: where its contacts records, and so its table entry and changelog records, live."""
    return (murmur2(customer.encode("utf-8")) & 0x7FFFFFFF) % partitions


class ContactStore(Protocol):
    """Where histories live: a Faust table in the worker, a dict in ``voc enrich``."""

    def get(self, key: str, /) -> Any: ...

    def __setitem__(self, key: str, value: Any, /) -> None: ...


def count_contact(store: ContactStore, contact: Contact) -> int:
    """Record ``contact`` in ``store`` and return its count; an unchanged history (a message
    seen before) is not written again, so a redelivery adds no changelog record."""
    old = store.get(contact.customer)
    new, count = record_contact(old, contact)
    if new != old:
        store[contact.customer] = new
    return count


class ContactCounter(Protocol):
    """What the enrich handler asks: the count for one parsed record."""

    def observe_record(self, item: InboundSMS | SurveyReply) -> int: ...


class RecentContacts:
    """In-memory histories (an LRU over ``max_customers``), for one process reading a file
    (``voc enrich``) and the handler tests; the worker counts in its table instead."""

    def __init__(self, max_customers: int = 200_000) -> None:
        self._seen: OrderedDict[str, History] = OrderedDict()
        self._max = max_customers

    def get(self, key: str) -> History | None:
        return self._seen.get(key)

    def __setitem__(self, key: str, value: History) -> None:
        self._seen[key] = value
        self._seen.move_to_end(key)
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)

    def observe(self, customer: str | None, message_id: str, at: datetime) -> int:
        """Record one contact at ``at``; 0 when the customer is unknown."""
        if not customer:
            return 0
        return count_contact(self, Contact(customer, message_id, at.timestamp()))

    def observe_record(self, item: InboundSMS | SurveyReply) -> int:
        """The count for ``item`` (``contact_of`` picks customer, id and time)."""
        contact = contact_of(item)
        return 0 if contact is None else count_contact(self, contact)


class KnownCounts:
    """Counts already taken from the table for one batch, looked up by message id."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = dict(counts)

    def observe_record(self, item: InboundSMS | SurveyReply) -> int:
        return self._counts.get(message_id_of(item), 0)
