"""The language detector shipped before bench/language.py's comparison (processors/language.py
at commit 0796d73), frozen here as the baseline: function words, then langdetect (seeded).
Bench-only; nothing at runtime imports it."""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

SUPPORTED_LANGUAGES: frozenset[str] = frozenset({"en"})
UNDETERMINED = "und"

# English evidence: function words plus SMS/service vocabulary.
_ENGLISH_WORDS: frozenset[str] = frozenset(
    str.split(
        """
    a about after again all am an and any are as at be been but by can cant can't could did
    didnt didn't do does doesnt doesn't dont don't for from get got had has have haven't he her
    here him his how i i'm im i've ive if in is isnt isn't it it's its just me my no not now of
    off ok okay on one or our out please pls plz so still that the their them then there they
    this to too two up us very was wasnt wasn't we were what when where which who why will with
    wont won't would yes yeah yep you your you're thanks thank thx ty cheers lol omg wtf great
    good bad terrible awful worst best love hate bill billing charged charge refund money pay
    paid payment order delivery delivered parcel late never again service customer phone call
    called signal internet broadband wifi down outage broken fix fixed help hello hi hey sorry
    sent send text message app website online account contract cancel cancelling switching
    engineer staff rude waiting wait hours days week still nothing anyone someone ever
    stop stopall unsubscribe end quit opt optout u ur r gonna wanna gotta dont im ive
    """
    )
)
# Function words that are rare in English text (words shared with English left out).
_OTHER_WORDS: dict[str, frozenset[str]] = {
    code: frozenset(words.split())
    for code, words in {
        "es": "el los las del que y en una por con para es está estoy tengo muy gracias hola "
              "pero más como lo su se mi mis ya nada hay también porque cuando",
        "fr": "le les des du et est une je vous nous pas pour avec mais sur dans ce cette mon "
              "très merci bonjour suis ai au aux qui ne il elle sont c'est j'ai beaucoup",
        "de": "der die das und ist nicht ich sie ein eine mit für auf dem zu von sehr mein "
              "meine wir haben danke bitte aber auch noch gut kein keine seit immer schon",
        "it": "il lo gli di che è non per con una sono mio mia molto grazie ciao ho questo "
              "della del ma anche sempre ancora perché",
        "pt": "os da do das dos que não em um uma para com é muito obrigado obrigada meu minha "
              "estou tenho mas você isso ainda",
        "nl": "het een en van ik niet dat op zijn met voor maar heb mijn wij ook nog geen "
              "bedankt erg al wel",
        "sv": "och att det är jag inte som en på för med har min till men också tack mycket",
        "no": "og ikke jeg det er en på for med har min til men takk veldig",
        "da": "og ikke jeg det er en på for med har min til men tak meget",
        "pl": "nie się że jest jak ale mam mój moja bardzo dziękuję jestem czy",
        "tr": "ve bir bu için ile çok değil ben sen ama gibi teşekkür var yok",
        "id": "dan yang di ini itu tidak saya untuk dengan ada aku kamu sudah terima kasih",
        "ro": "și nu este cu pe mai sunt pentru ce foarte mulțumesc",
    }.items()
}
# word -> languages it is a function word of (one dict lookup per word)
_OTHER_INDEX: dict[str, tuple[str, ...]] = {}
for _code, _vocab in _OTHER_WORDS.items():
    for _w in _vocab:
        _OTHER_INDEX[_w] = (*_OTHER_INDEX.get(_w, ()), _code)
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+|#\w+|\[(?:PHONE|EMAIL|CARD|POSTCODE|IBAN)\]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_LOCK = threading.Lock()
_FACTORY_READY = False


@dataclass(frozen=True)
class LanguageGuess:
    """Detected language code and whether the English models can be trusted on it."""

    code: str
    supported: bool
    confidence: float


def _langdetect(text: str) -> tuple[str, float]:
    global _FACTORY_READY
    from langdetect import DetectorFactory, detector_factory
    from langdetect.lang_detect_exception import LangDetectException

    with _LOCK:
        if not _FACTORY_READY:
            DetectorFactory.seed = 0
            detector_factory.init_factory()
            _FACTORY_READY = True
        try:
            detector = detector_factory._factory.create()
            # 3 trials on the first 500 chars: same answers on real sentences, ~3x faster
            detector.n_trial = 3
            detector.set_max_text_length(500)
            detector.append(text)
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return UNDETERMINED, 0.0
    return best.lang.split("-")[0], float(best.prob)


def warm_up() -> None:
    """Load langdetect's profiles now (about a second) rather than in the first batch."""
    _langdetect("this is a warm up sentence for the language detector")


def _is_latin(word: str) -> bool:
    return word.isascii() or all(c.isascii() or "LATIN" in unicodedata.name(c, "") for c in word)


def _guess(code: str, prob: float) -> LanguageGuess:
    if code == UNDETERMINED:
        return LanguageGuess(UNDETERMINED, True, 0.0)
    return LanguageGuess(code, code in SUPPORTED_LANGUAGES, round(prob, 4))


def detect_language(text: str) -> LanguageGuess:
    """Guess the language of (already redacted) text."""
    stripped = _NOISE.sub(" ", text)
    words = [w.lower() for w in _WORD.findall(stripped)]
    if not words:
        # emoji, numbers, placeholders only: nothing for a language model to misread
        return LanguageGuess(UNDETERMINED, True, 0.0)
    latin = sum(_is_latin(w) for w in words)
    if latin < len(words) / 2:
        return _guess(*_langdetect(stripped))  # another script: langdetect is good at these
    en_hits = sum(w in _ENGLISH_WORDS for w in words)
    counts: dict[str, int] = {}
    for w in words:
        for code in _OTHER_INDEX.get(w, ()):
            counts[code] = counts.get(code, 0) + 1
    other_code, other_hits = max(counts.items(), key=lambda kv: kv[1], default=("", 0))
    if en_hits and en_hits >= other_hits:
        return LanguageGuess("en", True, round(en_hits / (en_hits + other_hits), 4))
    if other_hits >= 2 and other_hits > en_hits:
        code, prob = _langdetect(stripped)
        if code == "en" and prob >= 0.9:
            return LanguageGuess("en", True, round(prob, 4))
        # langdetect separates close relatives (sv/no/da, es/pt) better than word lists
        return _guess(code if code in _OTHER_WORDS else other_code, other_hits / len(words))
    if len(words) <= 6 and other_hits == 0:
        # names, hashtags, slang ("gr8 svc m8"): no evidence against the default, English
        return LanguageGuess("en", True, 0.5)
    code, prob = _langdetect(stripped)
    if code != "en" and other_hits == 0 and prob < 0.95:
        return LanguageGuess("en", True, 0.5)
    return _guess(code, prob)
