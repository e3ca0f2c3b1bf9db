"""Language identification that holds up on one-word replies ("Sì", "Ok danke", "ok thx").

Three layers, cheapest first:

1. Words. English function/SMS words against the function words and short-reply
   vocabulary ("gracias", "danke", "prima", "tak") of the languages customers write
   in. Mostly-English text, or words of one other language only, decide here in
   microseconds (most messages).
2. lingua-language-detector (Apache-2.0), restricted to ``LANGUAGES`` and in
   low-accuracy mode (trigram models only): ~0.3 s and ~25 MB to load, against
   2-6 s and ~225 MB for its full mode, which measured no better on the customer
   set's dev part once layer 1 has answered the one-word replies (bench/language.py).
   It is loaded lazily.
3. A principled fallback. lingua is trusted when its top two languages lie at least
   ``MIN_RELATIVE_DISTANCE`` apart, on text of ``SENTENCE_WORDS`` or more when words
   spoke (n-grams are weak on short text: there lingua only ranks the languages the
   words named), and, against English words with no word of its own, only when
   near-certain (``NO_WORD_MIN_CONFIDENCE``: names and titles). Otherwise, and for
   text of fewer than ``MIN_LETTERS`` letters, the answer is ``DEFAULT_LANGUAGE``:
   a guess from no signal must not flip a message out of the supported models.

Text mostly in another script goes to a second lingua detector over the languages
not written in Latin script (low-accuracy mode, preloaded: ~0.1 s, ~10 MB). Which languages
the models read is the encoder's business (``processors.model_files.model_languages``): the
enricher tags any other ``language_supported = False`` and still indexes it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

# The languages customers write in and the detector chooses among for Latin-script
# text (the customer set's language labels are this list: training.customer_set).
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl", "pl")
DEFAULT_LANGUAGE = "en"
UNDETERMINED = "und"
MIN_LETTERS = 3
# lingua confidences sum to 1 over LANGUAGES; a top-two gap below this is no signal
MIN_RELATIVE_DISTANCE = 0.25
# English words and none of another language: only a near-certain n-gram verdict leaves
# English (names and titles in English tweets score 0.5-0.99; foreign text with an
# English-looking word and no listed word scored >= 0.998 on the train part)
NO_WORD_MIN_CONFIDENCE = 0.99
# from this many words lingua's n-grams outvote the word lists
SENTENCE_WORDS = 5

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
    fine none n/a nope cool sure alright thnx tks ta
    awesome amazing nice lovely perfect poor crazy same new really much more like know think
    need time today tomorrow yesterday back well only first going make made said say went
    people thing day night work home free happy sad angry better worse little big right
    wrong maybe always because since until while every some many few other another already
    soon show
    """
    )
)
# Function words and short-reply vocabulary that are rare in English text (words
# shared with English, such as "no", "ok", "super", "top", left out).
_OTHER_WORDS: dict[str, frozenset[str]] = {
    code: frozenset(words.split())
    for code, words in {
        "es": "el los las del que y en una por con para es está estoy tengo muy gracias hola "
              "pero más como lo su se mi mis ya nada hay también porque cuando sí vale "
              "acuerdo bien perfecto genial vale claro vale vale gracias muchas buenas "
              "buenos días tardes noches nunca siempre otra vez ningún ninguna todo",
        "fr": "le les des du et est une je vous nous pas pour avec mais sur dans ce cette mon "
              "très merci bonjour suis ai au aux qui ne il elle sont c'est j'ai beaucoup oui "
              "d'accord parfait bien bon rien ras bonsoir salut toujours jamais encore tout "
              "ça n'ai",
        "de": "der die das und ist nicht ich sie ein eine mit für auf dem zu von sehr mein "
              "meine wir haben danke bitte aber auch noch gut kein keine seit immer schon ja "
              "nein alles klar zufrieden prima genau gerne passt toll schlecht vielen "
              "nie wieder leider viele",
        "it": "il lo gli di che è non per con una sono mio mia molto grazie ciao ho questo "
              "della del ma anche sempre ancora perché sì si va bene perfetto tutto "
              "d'accordo mille buongiorno buonasera niente mai nessuno ottimo soddisfatto",
        "pt": "os da do das dos que não em um uma para com é muito obrigado obrigada meu minha "
              "estou tenho mas isso ainda sim certo bom boa tudo bem nada olá bom dia "
              "obg perfeito ótimo nunca sempre está mais algum você",
        "nl": "het een en van ik niet dat op zijn met voor maar heb mijn wij ook nog geen "
              "bedankt erg al wel dank ja nee prima tevreden goed graag oké dag hoi alles "
              "jammer heel echt weer",
        "pl": "nie się że jest jak ale mam mój moja bardzo dziękuję jestem czy tak dzięki "
              "dobrze wszystko porządku proszę dzień dobry cześć nic zawsze znowu",
    }.items()
}
# word -> languages it is a function word of (one dict lookup per word)
_OTHER_INDEX: dict[str, tuple[str, ...]] = {}
for _code, _vocab in _OTHER_WORDS.items():
    for _w in _vocab:
        _OTHER_INDEX[_w] = (*_OTHER_INDEX.get(_w, ()), _code)
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+|#\w+|\[(?:PHONE|EMAIL|CARD|POSTCODE|IBAN)\]")
_WORD = re.compile(r"[^\W\d_]+(?:['/][^\W\d_]+)?")
_LOCK = threading.Lock()
_DETECTORS: dict[str, LanguageDetector] = {}


@dataclass(frozen=True)
class LanguageGuess:
    """Detected language code (``und``: no words to tell) and how sure the detector is."""

    code: str
    confidence: float


def _detector(kind: str) -> LanguageDetector:
    """The ``latin`` detector (LANGUAGES) or the ``other_scripts`` one (every lingua
    language not written in Latin script: all of them preloaded, ~0.1 s and ~10 MB, so
    no message pays for a load), built on first use: a one-shot ``voc classify`` may
    never need either."""
    with _LOCK:
        if kind not in _DETECTORS:
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

            if kind == "latin":
                codes = [getattr(IsoCode639_1, c.upper()) for c in LANGUAGES]
                builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
            else:
                builder = LanguageDetectorBuilder.from_all_languages_without(
                    *Language.all_with_latin_script()
                ).with_preloaded_language_models()
            _DETECTORS[kind] = builder.with_low_accuracy_mode().build()
        return _DETECTORS[kind]


def _lingua(kind: str, text: str) -> list[tuple[str, float]]:
    """(code, confidence) best first; empty when lingua finds no signal at all."""
    values = _detector(kind).compute_language_confidence_values(text)
    return [(v.language.iso_code_639_1.name.lower(), float(v.value)) for v in values]


def warm_up() -> None:
    """Load both detectors now (~0.3 s, ~25 MB) rather than in the first batch."""
    _lingua("latin", "this is a warm up sentence for the language detector")
    _detector("other_scripts")


def _is_latin(word: str) -> bool:
    return word.isascii() or all(c.isascii() or "LATIN" in unicodedata.name(c, "") for c in word)


def _guess(code: str, confidence: float) -> LanguageGuess:
    return LanguageGuess(code, round(confidence, 4))


def detect_language(text: str) -> LanguageGuess:
    """Guess the language of (already redacted) text."""
    stripped = _NOISE.sub(" ", text)
    words = [w.lower() for w in _WORD.findall(stripped)]
    if not words:
        # emoji, numbers, placeholders only: nothing for a language model to misread
        return LanguageGuess(UNDETERMINED, 0.0)
    latin = sum(_is_latin(w) for w in words)
    if latin < len(words) / 2:
        ranked = _lingua("other_scripts", stripped)
        return _guess(*ranked[0]) if ranked else LanguageGuess(UNDETERMINED, 0.0)
    en_hits = sum(w in _ENGLISH_WORDS for w in words)
    counts: dict[str, int] = {}
    for w in words:
        for code in _OTHER_INDEX.get(w, ()):
            counts[code] = counts.get(code, 0) + 1
    other_hits = max(counts.values(), default=0)
    leaders = [c for c, n in counts.items() if n == other_hits]
    if en_hits > other_hits and 2 * en_hits >= len(words):
        return LanguageGuess("en", round(en_hits / (en_hits + other_hits), 4))
    if other_hits and not en_hits and len(leaders) == 1:
        return _guess(leaders[0], 1.0)
    if sum(len(w) for w in words) < MIN_LETTERS:
        return _guess(DEFAULT_LANGUAGE, 0.5)  # "k", "ty": too little to tell
    ranked = _lingua("latin", stripped)
    if not ranked:
        return _guess(DEFAULT_LANGUAGE, 0.5)
    best, value = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    trusted = (
        value - runner_up >= MIN_RELATIVE_DISTANCE
        # n-grams are weak on short text: there the words pick the candidates
        and (len(words) >= SENTENCE_WORDS or not other_hits)
        # English words and none of best's: names, titles, brands unless near-certain
        and not (en_hits and best != "en" and best not in counts
                 and value < NO_WORD_MIN_CONFIDENCE)
    )
    if trusted:
        return _guess(best, value)
    if other_hits:
        # lingua ranks the languages the words spoke for (English too if as many)
        allowed = {"en", *leaders} if en_hits >= other_hits else set(leaders)
        for code, v in ranked:
            if code in allowed:
                return _guess(code, v)
    return _guess(DEFAULT_LANGUAGE, 0.5)  # names, slang ("gr8 svc m8"): no signal
