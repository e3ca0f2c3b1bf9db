"""language: short English SMS stay English; other languages are flagged unsupported."""

from __future__ import annotations

import pytest

from processors.language import detect_language


@pytest.mark.parametrize("text", ["ok thx", "STOP", "yes", "no signal again", "gr8 svc m8",
                                  "wifi down!!", "worst service ever",
                                  "You charged me twice for my order and nobody will help"])
def test_english(text: str) -> None:
    guess = detect_language(text)
    assert guess.code == "en" and guess.supported


@pytest.mark.parametrize(
    ("text", "code"),
    [("Mi factura es incorrecta, me cobraron dos veces este mes", "es"),
     ("Ich bin sehr unzufrieden mit dem Kundendienst, das ist eine Frechheit", "de"),
     ("Bonjour, je voudrais annuler mon abonnement internet", "fr"),
     ("رسوم مزدوجة على فاتورتي هذا الشهر", "ar")],
)
def test_other_languages_unsupported(text: str, code: str) -> None:
    guess = detect_language(text)
    assert guess.code == code and not guess.supported


def test_no_words_is_undetermined_but_not_flagged() -> None:
    for text in ("😡😡😡", "12345", "[PHONE]", ""):
        guess = detect_language(text)
        assert guess.supported
    assert detect_language("😡😡").code == "und"


def test_deterministic() -> None:
    text = "Das Internet funktioniert seit gestern nicht"
    assert len({detect_language(text) for _ in range(5)}) == 1
