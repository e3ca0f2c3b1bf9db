"""The re-key step (streams/handlers/contacts.py): keyed by customer, original coordinates
and bytes carried through, bad input forwarded for the enrich step to park."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from streams.handlers.common import RawEvent
from streams.handlers.contacts import (
    CONTACT_HEADER,
    ORIGIN_HEADER,
    RekeyHandler,
    contact_from,
    origin_event,
)
from tests.stream.conftest import SMS_TOPIC, SOURCES, SURVEY_TOPIC, parse, sms, survey

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def rekey() -> RekeyHandler:
    return RekeyHandler(parse=parse, sources=SOURCES, clock=lambda: NOW)


def as_contacts_event(rec: object, topic: str = "t.contacts", offset: int = 0) -> RawEvent:
    return RawEvent(topic, 3, offset, rec.key, rec.value)  # type: ignore[attr-defined]


async def test_records_are_keyed_by_customer_and_carry_their_origin() -> None:
    events = [RawEvent(SMS_TOPIC, 1, 7, b"+447700900123", sms("SM1", customer=None),
                       timestamp=NOW.timestamp() - 60),
              RawEvent(SURVEY_TOPIC, 2, 8, b"R1", survey("R1"))]
    out = await rekey().handle(events)
    assert [(r.topic, r.key) for r in out.records] == [("contacts", b"+447700900123"),
                                                      ("contacts", b"C2")]
    for src, rec in zip(events, out.records, strict=True):
        assert rec.value == src.value  # the bytes travel unchanged
        back = origin_event(as_contacts_event(rec), rec.headers)
        assert back == src  # topic, partition, offset, key, value and Kafka time
    contact = contact_from(as_contacts_event(out.records[0]), out.records[0].headers)
    assert contact is not None and contact.message_id == "sms:SM1"
    assert contact.customer == "+447700900123"  # no customer id: the sender


async def test_a_future_date_is_clipped_to_the_kafka_timestamp() -> None:
    arrived = NOW.timestamp() - 3600
    ev = RawEvent(SMS_TOPIC, 0, 1, b"k", sms("SM2", at="2027-06-01T00:00:00Z"),
                  timestamp=arrived)
    (rec,) = (await rekey().handle([ev])).records
    assert json.loads(dict(rec.headers)[CONTACT_HEADER])["at"] == arrived


async def test_the_key_is_the_pseudonym_the_enrich_step_gives_the_customer() -> None:
    from processors.pseudonym import pseudonymise_customer
    from streams.contacts import sender_pseudonym

    key = b"rekey-test-pseudonym-key-0123"
    handler = RekeyHandler(parse=parse, sources=SOURCES, pseudonym_key=key, clock=lambda: NOW)
    out = await handler.handle([RawEvent(SMS_TOPIC, 0, 1, b"k", sms("SM1")),
                                RawEvent(SMS_TOPIC, 0, 2, b"k", sms("SM2", customer=None))])
    assert [r.key for r in out.records] == [pseudonymise_customer("C1", key).encode(),
                                           sender_pseudonym("+447700900123", key).encode()]
    assert all(b"7700" not in b"".join(v for _, v in r.headers) for r in out.records)


async def test_bad_input_goes_on_keyed_as_it_was_without_a_contact() -> None:
    events = [RawEvent(SMS_TOPIC, 0, 5, b"k5", b"not json"),
              RawEvent(SMS_TOPIC, 0, 6, None, None)]  # a tombstone
    out = await rekey().handle(events)
    assert [r.key for r in out.records] == [b"k5", None]
    for src, rec in zip(events, out.records, strict=True):
        assert CONTACT_HEADER not in dict(rec.headers)
        assert origin_event(as_contacts_event(rec), rec.headers) == src  # null stays null


def test_a_record_without_our_headers_is_its_own_origin() -> None:
    ev = RawEvent("t.contacts", 0, 1, b"C1", sms("SM3"))
    assert origin_event(ev, None) == ev
    assert origin_event(ev, [(ORIGIN_HEADER, b"not json")]) == ev
    assert contact_from(ev, [(CONTACT_HEADER, b'{"id": "sms:SM3"}')]) is None  # no time
