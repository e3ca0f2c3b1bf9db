"""The one contact counter behind "3rd contact in 7 days" (the worker and ``voc enrich``).

Kept in memory (an LRU over ``max_customers``), not in a Faust table: the inbound topics are
keyed by sender / response id, not by customer, so a customer's messages can land on
different partitions and a partitioned table could not see them all without a repartition
hop. Limitation: with several workers, or after a restart, a customer's count covers only
what this process has seen since it started. Times are the messages' own timestamps, so a
replay of old data counts the way it happened, and the same message id is never counted
twice.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import UTC, datetime, timedelta

from schemas.records import InboundSMS, SurveyReply

CONTACT_WINDOW = timedelta(days=7)


class RecentContacts:
    """Per-customer contact times over the last 7 days."""

    def __init__(self, max_customers: int = 200_000, window: timedelta = CONTACT_WINDOW) -> None:
        self._seen: OrderedDict[str, deque[tuple[datetime, str]]] = OrderedDict()
        self._max = max_customers
        self._window = window

    def observe(self, customer: str | None, message_id: str, at: datetime) -> int:
        """Record one contact; return how many contacts (this one included) fall in the
        window ending at ``at``. 0 when the customer is unknown."""
        if not customer:
            return 0
        times = self._seen.get(customer)
        if times is None:
            times = self._seen[customer] = deque()
            if len(self._seen) > self._max:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(customer)
        if all(mid != message_id for _, mid in times):
            times.append((at, message_id))
        newest = max(t for t, _ in times)
        while times and times[0][0] < newest - self._window:
            times.popleft()
        lo = at - self._window
        return sum(1 for t, _ in times if lo <= t <= at)

    def observe_record(self, item: InboundSMS | SurveyReply) -> int:
        """``observe`` for an inbound record: its customer (an SMS falls back to the sender),
        its id and its own timestamp (UTC when naive)."""
        if isinstance(item, SurveyReply):
            customer, mid, at = item.customer_id, f"survey:{item.response_id}", item.submitted_at
        else:
            customer = item.customer_id or item.sender
            mid, at = f"sms:{item.message_id}", item.received_at
        return self.observe(customer, mid, at if at.tzinfo is not None else at.replace(tzinfo=UTC))
