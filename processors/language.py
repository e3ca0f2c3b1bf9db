"""Language detection that does not turn "ok thx" into Somali.

langdetect (seeded, so results are reproducible) is good on sentences and poor
on SMS-length text; a small English word list decides the short and the
slangy cases first. The models are English-only, so anything else is tagged
``language_supported = False`` and still indexed.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

SUPPORTED_LANGUAGES: frozenset[str] = frozenset({"en"})
UNDETERMINED = "und"

# Common English function words plus SMS/service vocabulary.
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
    stop stopall unsubscribe end quit opt optout
    """
    )
)
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
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    with _LOCK:
        if not _FACTORY_READY:
            DetectorFactory.seed = 0
            _FACTORY_READY = True
        try:
            best = detect_langs(text)[0]
        except LangDetectException:
            return UNDETERMINED, 0.0
    code = best.lang.split("-")[0]
    return code, float(best.prob)


def detect_language(text: str) -> LanguageGuess:
    """Guess the language of (already redacted) text."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        # emoji, numbers, placeholders only: nothing for a language model to misread
        return LanguageGuess(UNDETERMINED, True, 0.0)
    english_ratio = sum(w in _ENGLISH_WORDS for w in words) / len(words)
    ascii_only = all(w.isascii() for w in words)
    if len(words) <= 4 and ascii_only and english_ratio > 0:
        return LanguageGuess("en", True, 0.6 + 0.4 * english_ratio)
    if english_ratio >= 0.35 and ascii_only:
        return LanguageGuess("en", True, min(1.0, 0.5 + english_ratio))
    code, prob = _langdetect(text)
    if code != "en" and ascii_only and (
        (english_ratio >= 0.2 and prob < 0.9) or (len(words) <= 3 and prob < 0.95)
    ):
        return LanguageGuess("en", True, 0.5)
    if code == UNDETERMINED:
        return LanguageGuess(UNDETERMINED, True, 0.0)
    return LanguageGuess(code, code in SUPPORTED_LANGUAGES, prob)
