"""language: short English SMS stay English; other languages are told apart."""

from __future__ import annotations

import pytest

from processors.language import DEFAULT_LANGUAGE, LANGUAGES, detect_language
from training import customer_set


@pytest.mark.parametrize("text", ["ok thx", "STOP", "yes", "no signal again", "gr8 svc m8",
                                  "wifi down!!", "worst service ever",
                                  "You charged me twice for my order and nobody will help"])
def test_english(text: str) -> None:
    guess = detect_language(text)
    assert guess.code == "en"


@pytest.mark.parametrize(
    ("text", "code"),
    [("Mi factura es incorrecta, me cobraron dos veces este mes", "es"),
     ("Ich bin sehr unzufrieden mit dem Kundendienst, das ist eine Frechheit", "de"),
     ("Bonjour, je voudrais annuler mon abonnement internet", "fr"),
     ("رسوم مزدوجة على فاتورتي هذا الشهر", "ar")],
)
def test_other_languages_recognised(text: str, code: str) -> None:
    guess = detect_language(text)
    assert guess.code == code


def test_no_words_is_undetermined_but_not_flagged() -> None:
    for text in ("😡😡😡", "12345", "[PHONE]", ""):
        guess = detect_language(text)
        assert guess.code == "und"
    assert detect_language("😡😡").code == "und"


def test_deterministic() -> None:
    text = "Das Internet funktioniert seit gestern nicht"
    assert len({detect_language(text) for _ in range(5)}) == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [("Sì", "it"), ("Perfetto", "it"), ("Grazie mille", "it"), ("Zufrieden", "de"),
     ("Ok danke", "de"), ("Alles klar", "de"), ("Vale, gracias", "es"), ("Muchas gracias", "es"),
     ("Merci beaucoup", "fr"), ("Oui d'accord", "fr"), ("Obrigado", "pt"), ("Tudo bem", "pt"),
     ("Bedankt", "nl"), ("Prima, tevreden", "nl"), ("Tak, dzięki", "pl"), ("Dziękuję", "pl")],
)
def test_one_and_two_word_replies(text: str, code: str) -> None:
    guess = detect_language(text)
    assert guess.code == code


@pytest.mark.parametrize("text", ["Fine", "n/a", "none", "ok np", "Ok I guess", "cool",
                                  "Hi is there an app for checking my data usage?"])
def test_english_one_word_replies_stay_english(text: str) -> None:
    assert detect_language(text).code == "en"


@pytest.mark.parametrize(
    ("text", "code"),
    [("Zamknąłem konto dwa miesiące temu", "pl"),  # no listed word: lingua decides
     ("Encontrei fezes de rato no pacote de bolachas", "pt"),  # one English-looking word
     ("Het pakket werd vandaag bezorgd", "nl"),
     ("Привет, интернет не работает третий день", "ru")],  # another script
)
def test_sentences_without_listed_words(text: str, code: str) -> None:
    assert detect_language(text).code == code


@pytest.mark.parametrize("text", ["k", "xx", "gr8 svc m8", "hmm"])
def test_no_signal_falls_back_to_the_default_language(text: str) -> None:
    guess = detect_language(text)
    assert guess.code == DEFAULT_LANGUAGE and guess.confidence == 0.5


def test_one_list_of_languages() -> None:
    assert customer_set.LANGUAGES is LANGUAGES
    assert LANGUAGES[0] == DEFAULT_LANGUAGE
