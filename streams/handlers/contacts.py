"""Re-key step: inbound SMS and survey replies -> the ``contacts`` topic, keyed by customer.

Why: the inbound topics are keyed by sender / response id, but the repeat-contact count
(``streams.contacts``) needs every message of a customer on one partition, so that the one
worker owning that partition (and the same partition of the contacts table) sees them all.

The customer key and the contact time are those the enrich step will use: the record is
pseudonymised (``processors.pseudonym``) and its event time checked against the broker's
timestamp (``processors.eventtime``) the same way, then ``streams.contacts.contact_of`` picks
the key. The record's bytes travel unchanged; where it came from (topic, partition, offset, key,
Kafka timestamp) travels in a header, so the enrich step downstream parses, dead-letters
and replays against the original record exactly as if it had read the inbound topic. The
contact (its id and time, from ``contact_of``) travels in a second header, so the enrich
agent counts it in the table before the handler runs. A record that does not parse goes on
too, keyed as it was, without a contact: the enrich step dead-letters it with its reason
(one place validates).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from processors.eventtime import SkewWindow, check_event_time
from processors.pseudonym import pseudonymise_record
from schemas.records import SurveyReply
from streams.contacts import Contact, contact_of
from streams.handlers.common import Outputs, OutRecord, RawEvent
from streams.types import ParseInbound, Source

log = logging.getLogger(__name__)

ORIGIN_HEADER = "voc-origin"
CONTACT_HEADER = "voc-contact"

Headers = Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None


class RekeyHandler:
    """Turns a batch of inbound events into ``contacts`` records keyed by customer.

    Never raises for bad data: what does not parse is forwarded for the enrich step to park.
    """

    def __init__(self, *, parse: ParseInbound, sources: Mapping[str, Source],
                 pseudonym_key: bytes | None = None, time_window: SkewWindow | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """``sources`` maps a full topic name to its channel ("sms" or "survey");
        ``pseudonym_key`` and ``time_window`` are the enrich handler's (None: ids as given)."""
        self.parse = parse
        self.sources = dict(sources)
        self.pseudonym_key = pseudonym_key
        self.time_window = time_window or SkewWindow()
        self.clock = clock

    def contact(self, ev: RawEvent, now: datetime) -> Contact | None:
        """The contact ``ev`` makes; None when it does not parse or has no customer."""
        if not ev.value:
            return None
        try:
            item = self.parse(ev.value, self.sources.get(ev.topic, "sms"))
        except Exception:  # noqa: BLE001 - the enrich step parks it with its reason
            return None
        if self.pseudonym_key is not None:
            item = pseudonymise_record(item, self.pseudonym_key)
        claimed = item.submitted_at if isinstance(item, SurveyReply) else item.received_at
        at = check_event_time(claimed, _broker_time(ev, now), self.time_window).at
        return contact_of(item, at=at, sender_key=self.pseudonym_key, now=now)

    async def handle(self, events: Sequence[RawEvent]) -> Outputs:
        out = Outputs()
        now = self.clock()
        for ev in events:
            contact = self.contact(ev, now)
            headers = [(ORIGIN_HEADER, origin_header(ev))]
            key = ev.key
            if contact is not None:
                key = contact.customer.encode("utf-8")
                headers.append((CONTACT_HEADER, json.dumps(
                    {"id": contact.message_id, "at": contact.at}).encode("utf-8")))
            out.records.append(OutRecord("contacts", key, ev.value or b"",
                                         headers=tuple(headers), origin=ev))
        return out


def _broker_time(ev: RawEvent, now: datetime) -> datetime:
    """The record's broker timestamp, else ``now`` (as the enrich handler takes it)."""
    if ev.timestamp is not None and ev.timestamp > 0:
        try:
            return datetime.fromtimestamp(ev.timestamp, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return now


def origin_header(ev: RawEvent) -> bytes:
    """Where an inbound record came from, as the ``voc-origin`` header's JSON."""
    return json.dumps({
        "topic": ev.topic, "partition": ev.partition, "offset": ev.offset,
        "timestamp": ev.timestamp, "null": ev.value is None,
        "key": None if ev.key is None else base64.b64encode(ev.key).decode("ascii"),
    }).encode("utf-8")


def _header(headers: Headers, name: str) -> bytes | None:
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key == name:
            return value
    return None


def _json_header(headers: Headers, name: str) -> dict[str, Any] | None:
    raw = _header(headers, name)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def origin_event(ev: RawEvent, headers: Headers) -> RawEvent:
    """The inbound record a ``contacts`` record was re-keyed from (``ev`` itself when it
    carries no origin: something else wrote it)."""
    o = _json_header(headers, ORIGIN_HEADER)
    if o is None or not isinstance(o.get("topic"), str):
        return ev
    key = o.get("key")
    return RawEvent(
        topic=o["topic"], partition=o.get("partition"), offset=o.get("offset"),
        key=base64.b64decode(key) if isinstance(key, str) else None,
        value=None if o.get("null") else ev.value, timestamp=o.get("timestamp"),
    )


def contact_from(ev: RawEvent, headers: Headers) -> Contact | None:
    """The contact a ``contacts`` record carries: its key is the customer."""
    c = _json_header(headers, CONTACT_HEADER)
    if c is None or ev.key is None or not isinstance(c.get("id"), str):
        return None
    at = c.get("at")
    if not isinstance(at, int | float):
        return None
    return Contact(ev.key.decode("utf-8", "replace"), c["id"], float(at))
