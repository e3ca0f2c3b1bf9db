"""redact: typed placeholders for PII; ordinary numbers left alone; property tests."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.redact import iban_ok, luhn_ok, redact


@pytest.mark.parametrize(
    "phone",
    ["+44 7700 900123", "+447700900123", "+1 (415) 555-0100", "07700 900123", "07700900123",
     "020 7946 0958", "415-555-0100", "(415) 555-0100", "1-800-555-0100", "0044 20 7946 0958",
     "+49 30 901820", "415.555.0100"],
)
def test_phones(phone: str) -> None:
    r = redact(f"call me on {phone} today")
    assert r.text == "call me on [PHONE] today" and r.kinds == ["phone"]


def test_emails() -> None:
    r = redact("mail jane.doe+voc@example.co.uk or bob_smith@mail.example.com.")
    assert r.text == "mail [EMAIL] or [EMAIL]." and r.kinds == ["email"]


@pytest.mark.parametrize("card", ["4111 1111 1111 1111", "4111-1111-1111-1111",
                                  "4111111111111111", "378282246310005", "5500 0000 0000 0004"])
def test_cards_luhn_checked(card: str) -> None:
    assert redact(f"my card {card} was charged").text == "my card [CARD] was charged"


def test_non_luhn_long_number_is_not_a_card() -> None:
    r = redact("ref 4111 1111 1111 1112 please")
    assert "[CARD]" not in r.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("I live at SW1A 1AA now", "I live at [POSTCODE] now"),
     ("postcode m1 1ae", "postcode [POSTCODE]"),
     ("Austin, TX 78701-1234", "Austin, TX [POSTCODE]"),
     ("zip code 90210", "zip code [POSTCODE]")],
)
def test_postcodes(text: str, expected: str) -> None:
    r = redact(text)
    assert r.text == expected and r.kinds == ["postcode"]


def test_bank_details() -> None:
    r = redact("IBAN GB82 WEST 1234 5698 7654 32, sort code 12-34-56, account number 12345678")
    assert "5698" not in r.text and "12-34-56" not in r.text and "12345678" not in r.text
    assert r.kinds == ["account", "iban", "sortcode"]
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB00WEST12345698765432")


@pytest.mark.parametrize(
    "text",
    ["order 12345 cost £25 in 2 days", "I paid $1,250.00 on 2026-11-25 at 10:30",
     "3 times in 10 days", "ref 4155550100", "between 10 11 12 13 14", "90210 fans",
     "version 2.3.1", "room 101, flat 4B", "order #987654321"],
)
def test_ordinary_numbers_survive(text: str) -> None:
    r = redact(text)
    assert r.text == text and r.kinds == []


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


# ---------------------------------------------------------------- properties

FILLER = st.text(
    alphabet=st.characters(categories=["L", "P", "Zs", "So"], exclude_characters="@+"),
    max_size=40,
)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


PHONES = st.one_of(
    _digits(6).map(lambda d: f"+44 7700 {d}"),
    _digits(10).map(lambda d: f"+44{d}"),
    st.tuples(_digits(3), _digits(4)).map(lambda t: f"+1 (415) {t[0]}-{t[1]}"),
    _digits(6).map(lambda d: f"07700 {d}"),
    _digits(4).map(lambda d: f"020 7946 {d}"),
    st.tuples(st.sampled_from("23456789"), _digits(2), _digits(3), _digits(4)).map(
        lambda t: f"{t[0]}{t[1]}-{t[2]}-{t[3]}"),
)
EMAILS = st.emails()


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


CARDS = st.integers(min_value=12, max_value=18).flatmap(
    lambda n: st.tuples(st.sampled_from("3456"), _digits(n - 1))
).map(lambda t: _luhn_complete(t[0] + t[1])).flatmap(
    lambda d: st.sampled_from([d, " ".join(re.findall(".{1,4}", d)),
                               "-".join(re.findall(".{1,4}", d))])
)


SEPARATORS = st.sampled_from([" ", "", "\n", ", ", " (", ") ", ": ", "\t", " - ", "\u00a0"])


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(FILLER, SEPARATORS, st.one_of(PHONES, EMAILS, CARDS), SEPARATORS, FILLER)
def test_pii_never_survives(before: str, sep1: str, pii: str, sep2: str, after: str) -> None:
    out = redact(f"{before}{sep1}{pii}{sep2}{after}").text
    assert pii not in out
    digits = re.sub(r"\D", "", pii)
    if len(digits) >= 7:
        assert digits not in re.sub(r"\D", "", out)
    if "@" in pii:
        assert pii.split("@")[1] not in out


@given(st.text(max_size=200))
def test_redact_never_raises_and_is_stable(text: str) -> None:
    r = redact(text)
    assert redact(r.text).text == r.text  # placeholders are not re-redacted
    assert r.kinds == sorted(set(r.kinds))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("call 447700900123", "call [PHONE]"), ("text me on 7700900123", "text me on [PHONE]"),
     ("call me at 5550100", "call me at [PHONE]"), ("tel:+447700900123", "tel:[PHONE]"),
     ("+44 (0) 7700 900123", "[PHONE]"), ("order number 12345678", "order number 12345678"),
     ("ticket #4155550100", "ticket #4155550100"), ("phone 2 days ago", "phone 2 days ago")],
)
def test_phone_context_words(text: str, expected: str) -> None:
    assert redact(text).text == expected
