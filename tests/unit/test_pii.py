"""The PII detector: every kind, several languages, obfuscations, and what stays."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.pii import KINDS, detect
from processors.redact import DETECTOR_VERSION, redact


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("appelez le 06 12 34 56 78 svp", "06 12 34 56 78", "phone"),
        ("call 0161/496/0000 now", "0161/496/0000", "phone"),
        ("ring 07700_900_123", "07700_900_123", "phone"),
        ("call 07700\u2013900123", "07700\u2013900123", "phone"),
        ("tel +33 6 12 34 56 78", "+33 6 12 34 56 78", "phone"),
        ("llámame al 612 345 678", "612 345 678", "phone"),
        ("mail john dot smith at gmail dot com", "john dot smith at gmail dot com", "email"),
        ("mail john(at)gmail.com", "john(at)gmail.com", "email"),
        ("mail john [at] gmail [dot] com", "john [at] gmail [dot] com", "email"),
        ("mail john @ gmail.com", "john @ gmail.com", "email"),
        ("mail john%40gmail.com", "john%40gmail.com", "email"),
        ("card 4111.1111.1111.1111 was charged", "4111.1111.1111.1111", "card"),
        ("card 4111/1111/1111/1111 was charged", "4111/1111/1111/1111", "card"),
        ("card 4111_1111_1111_1111 was charged", "4111_1111_1111_1111", "card"),
        ("my account number is 31926819", "31926819", "account"),
        ("sort code 12.34.56", "12.34.56", "sortcode"),
        ("iban gb82west12345698765432 thanks", "gb82west12345698765432", "iban"),
        ("iban GB82-WEST-1234-5698-7654-32", "GB82-WEST-1234-5698-7654-32", "iban"),
        ("my SSN is 123-45-6789", "123-45-6789", "ssn"),
        ("NI number QQ 12 34 56 C", "QQ 12 34 56 C", "nino"),
        ("passport number 123456789", "123456789", "passport"),
        ("date of birth 12/03/1985", "12/03/1985", "dob"),
        ("nacido el 3 de marzo de 1985", "3 de marzo de 1985", "dob"),
        ("my name is Sarah Connor and", "Sarah Connor", "name"),
        ("this is Jane Doe, account holder", "Jane Doe", "name"),
        ("je m'appelle Jean Dupont", "Jean Dupont", "name"),
        ("Mit freundlichen Grüßen Jürgen Müller", "Jürgen Müller", "name"),
        ("it never came to 221B Baker Street", "221B Baker Street", "address"),
        ("envíen a Calle Mayor 12, por favor", "Calle Mayor 12", "address"),
        ("an Hauptstraße 5 bitte", "Hauptstraße 5", "address"),
        ("link https://x.example/r?token=abc123def&x=1", "abc123def", "secret"),
        ("my password is hunter2 ok", "hunter2", "secret"),
    ],
)
def test_each_kind_is_found(text: str, secret: str, kind: str) -> None:
    r = redact(text)
    assert secret not in r.text, r.text
    assert kind in r.kinds
    assert f"[{kind.upper()}]" in r.text


def test_cvv_and_expiry_beside_a_card_go_too() -> None:
    r = redact("card 4111 1111 1111 1111 exp 12/27 cvv 123 thanks")
    assert "12/27" not in r.text and "123 " not in r.text and r.kinds == ["card"]


@pytest.mark.parametrize(
    "text",
    ["call ０７７００ ９００１２３", "call ٠٧٧٠٠ ٩٠٠١٢٣", "call 077\u200b00 900\u00ad123",
     "mail john\u200b@gmail.com", "card 4111\u200b1111\u200b1111\u200b1111"],
)
def test_unicode_digits_and_invisible_characters(text: str) -> None:
    r = redact(text)
    assert r.redacted
    assert not any(ch.isdigit() for ch in r.text)


@pytest.mark.parametrize(
    "text",
    ["delivery was due on 12/05/2026", "it cost £1,299.99", "the engineer came at 14:30",
     "order number 81379249 missing", "on hold for 2 hours 15 minutes", "router XPS-9310",
     "app version 12.3.45", "I ordered 3 x 500 ml", "tracking 1Z999AA10123456784",
     "I'm very angry", "This is ridiculous", "3 times in a row", "two more days down the road"],
)
def test_hard_negatives_survive(text: str) -> None:
    assert redact(text).text == text


def test_report_names_the_detector_and_kinds() -> None:
    r = redact("call 07700 900123 or mail a@b.co")
    assert r.kinds == ["email", "phone"] and r.detector == DETECTOR_VERSION
    assert [text[sp.start:sp.end] for sp, text in zip(r.spans, ["x", "y"], strict=False)]
    assert set(r.kinds) <= set(KINDS)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_spans_are_ordered_disjoint_and_inside_the_text(text: str) -> None:
    spans = detect(text)
    last = 0
    for sp in spans:
        assert last <= sp.start < sp.end <= len(text)
        last = sp.end


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_redaction_keeps_everything_outside_the_spans(text: str) -> None:
    r = redact(text)
    pieces, pos = [], 0
    for sp in r.spans:
        pieces.append(text[pos:sp.start])
        pos = sp.end
    pieces.append(text[pos:])
    rest = r.text
    for p in pieces:
        assert p in rest


# Hand-written after the detector, in phrasings the corpus does not use. First run:
# 49 of 53 caught and 2 of 24 negatives altered; the misses were fixed and are kept here.
PROBES = [
    ("ring me on oh seven seven double oh nine hundred one two three", "nine"),
    ("my number: 07700-900-123", "900"), ("numero: 06 12 34 56 78", "78"),
    ("call +44(0)7700 900 123", "900"), ("WhatsApp +34 699 12 34 56", "699"),
    ("tel. 0049 (0)30 1234567", "1234567"), ("call me 0 7 7 0 0 9 0 0 1 2 3", "9 0 0"),
    ("my cell is 212.555.0199", "555"), ("Handy: 0176 / 123 456 78", "456"),
    ("chiamami al 3471234567", "3471234567"), ("email is jsmith AT example DOT org", "jsmith"),
    ("mail: maria.lopez (arroba) gmail (punto) com", "lopez"),
    ("send to j.doe<at>yahoo.co.uk", "j.doe"), ("contact anna_k @ web . de", "anna_k"),
    ("my email is peter-pan at outlook.com", "peter-pan"), ("mail JOHN.SMITH＠GMAIL.COM", "SMITH"),
    ("card no 5500-0000-0000-0004 exp 04/28 cvc 321", "321"),
    ("visa 4111 1111 1111 1111, expires 11/27, security code 987", "987"),
    ("my card number is 4012888888881881", "4012888888881881"),
    ("IBAN: fr76 3000 6000 0112 3456 7890 189", "3456"),
    ("pay into DE89370400440532013000 please", "DE89370400440532013000"),
    ("acc no 12345678 sort code 20-00-00", "12345678"), ("bank account: 0012 3456 7890", "3456"),
    ("sort-code 40.47.84", "47"), ("SSN 078-05-1120", "078"), ("my NI is AB123456C", "AB123456C"),
    ("passport no. 533380006", "533380006"), ("Passport: GB1234567", "GB1234567"),
    ("DOB 04/07/1979", "1979"), ("I was born 4th July 1979", "1979"),
    ("birthday is 1979-07-04", "1979"), ("geboren am 4. Juli 1979", "1979"),
    ("Hi, I'm Tom Baker and I want a refund", "Baker"), ("my name is maria garcia", "garcia"),
    ("Name: Jean-Luc Picard", "Picard"), ("From: Dr. Emily Watson", "Watson"),
    ("Best, Sam", "Sam"), ("Thanks\nRobert Brown", "Brown"), ("Mrs O'Connor called", "Connor"),
    ("ciao, sono Luca Bianchi", "Bianchi"), ("deliver to 10 Downing St, London", "Downing"),
    ("I live at 42 Wallaby Way, Sydney", "Wallaby"),
    ("address: 1600 Pennsylvania Avenue NW", "Pennsylvania"),
    ("Flat 3B, 27 Old Gloucester Road", "Gloucester"),
    ("envoyez au 5, rue du Faubourg Saint-Honoré", "Faubourg"),
    ("Rua das Flores 45, 2º Esq", "Flores"), ("Calle de Alcalá, 50, 3º B", "Alcalá"),
    ("Keizersgracht 123", "Keizersgracht"),
    ("reset link https://acme.com/reset?t=abc&token=Zx9y8w7v6u", "Zx9y8w7v6u"),
    ("https://user:S3cret!@acme.example.com/login", "S3cret"),
    ("my pw is Tr0ub4dor&3", "Tr0ub4dor"),
    ("password: correcthorsebatterystaple", "correcthorse"), ("PIN 4821", "4821"),
]
PROBE_NEGATIVES = [
    "I was charged £49.99 on 03/11/2026", "call centre kept me 45 mins",
    "invoice 2026-0042-17 unpaid", "router model RT-AC68U", "order #A12345678",
    "the 3:45pm slot", "version 10.0.19045", "Samsung Galaxy S23 Ultra 256GB",
    "I've been a customer for 12 years", "Room 214, Building 3", "ticket 1234567",
    "flight BA 2490 at 14:05", "paid 1.250,00 EUR", "2x 500g",
    "tracking 9400 1000 0000 0000 0000 00", "I am Very disappointed", "Thanks, Support Team",
    "this is Unacceptable", "it is 2024 not 1999", "on 12 March 2026 the van came",
    "my password reset is not working", "I called on 4 different days", "from 9 to 5",
    "PIN sent to my phone didn't arrive",
]


@pytest.mark.parametrize(("text", "needle"), PROBES)
def test_probes_in_unseen_phrasings(text: str, needle: str) -> None:
    assert needle not in redact(text).text


@pytest.mark.parametrize("text", PROBE_NEGATIVES)
def test_probe_negatives_survive(text: str) -> None:
    assert redact(text).text == text


@pytest.mark.parametrize(
    "text",
    ["This is URGENT, I typed the wrong payment", "My PIN is blocked, what do I do?",
     "I have forgotten my passcode to access my app", "Pin drop...#p2 #UniteBlue",
     "Start riding at this point in time", "#OTP #TWD", "I'm Dying", "I'm Grateful for this",
     "Thank you Democratic Party of New Mexico for standing", "Ali Signed Olympics Picture",
     "DON'T MISS: the sale", "It's Scarier Than You Think", "Via USSR 2.0",
     "1997-98 Flair Showcase Row 3", "hit .240/.295/.360 this year", "TONY PARKER 2015/16 15/16"],
)
def test_real_text_false_positives_stay_fixed(text: str) -> None:
    """Found by running the detector over banking77 and TweetEval texts."""
    assert redact(text).text == text


def test_a_rejected_spelled_email_does_not_hide_the_next_one() -> None:
    assert redact("email me at j.dupont(at)wp.pl asap").text == "email me at [EMAIL] asap"
    assert redact("Hola, soy Carlos, titular de la cuenta").text == (
        "Hola, soy [NAME], titular de la cuenta")
