"""Explainable urgency: every point of the score comes with a human-readable reason.

Each cue contributes a probability-like amount and the contributions are
combined as a noisy-OR (``1 - prod(1 - c)``), so the score stays in [0, 1],
grows with every extra cue and no single weak cue dominates. Some cues also set
a floor on the level (a safety risk is always critical; a regulator or
lawyer is at least high), because no amount of politeness makes them less
urgent. Levels and the rant decision come from ``UrgencyConfig`` thresholds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from processors.config import UrgencyConfig
from processors.cues import CueHit
from schemas.records import Priority, SurveyScore, Urgency, UrgencyLevel

LEVELS: tuple[UrgencyLevel, ...] = ("low", "medium", "high", "critical")
PRIORITY_BY_LEVEL: dict[str, Priority] = {"critical": "P1", "high": "P2", "medium": "P3"}


def _rx(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(phrases) + r")(?![\w])", re.I)


CHURN = _rx(
    r"cancel(?:l?ing|l?ed|lation)?", r"switch(?:ing)? (?:provider|supplier|network|company)",
    # "switching to another provider", not "switching to a cheaper plan" or "to paperless"
    r"switch(?:ing)? (?:over )?to (?:another|a different|a new|a better|a cheaper|a rival|"
    r"a competitor|the competition|competitors?|someone else)"
    r"(?! (?:plan|tariff|bundle|package|phone|handset|sim|deal|payment|date|account|"
    r"contract|bill|router)s?\b)",
    r"leav(?:e|ing) you", r"i'?m leaving", r"going elsewhere", r"take my business elsewhere",
    r"close my account", r"terminate", r"end(?:ing)? my contract", r"pac code", r"porting out",
    r"never (?:use|using|buy|buying) (?:you|from you|this)",
)
LEGAL = _rx(
    r"lawyers?", r"solicitors?", r"attorneys?", r"legal action", r"sue", r"suing",
    r"ombudsman", r"ofcom", r"ofgem", r"fca", r"ftc", r"fcc", r"trading standards",
    r"small claims", r"court", r"regulator", r"citizens advice", r"bbb", r"cma",
)
CANCEL_REQUEST = re.compile(
    r"(?i)(?:\b(?:i(?:'d| would)? like to|i want to|i wish to|please|can i|could i|could you|"
    r"how (?:do|can) i|how to)\b[^.!?]{0,30}\b(?:cancel|terminate|close|end)\w*)"
    r"|\b(?:cancel|terminate|close)\w*\b[^.!?]{0,40}\bplease\b"
)
REPEAT_PROBLEM = _rx(
    r"(?:second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th))\s+time", r"\d+\s+times",
    r"(?:two|three|four|five|six|seven|eight|nine|ten|several|many|multiple)\s+times",
    r"again and again", r"every single (?:time|day|week|month)", r"yet again", r"once again",
    r"not (?:for )?the first time",
)
AGAIN = _rx(r"again")
DURATION = _rx(
    r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|many)\s+(?:days|weeks|months)",
    r"(?:a|one|over a|more than a)\s+(?:week|month)", r"since last (?:week|month)",
)
IGNORED = _rx(
    r"(?:nobody|no one|no-one)\s+(?:cares|helps|answers|replies|responds|gets back|got back|"
    r"calls? back|called back|listens|can explain|seems to care)",
    r"(?:called|rang|emailed|chased)\s+(?:you\s+)?(?:every day|daily|repeatedly|again and again)",
)
_NEGATED = re.compile(
    r"(?i)\b(?:don'?t|do not|didn'?t|won'?t|will not|never|not|no plans to|no intention of)"
    r"\W+(?:\w+\W+){0,2}$"
)
# "switching to Vodafone": a named rival (case-sensitive: a capitalised name after "to")
CHURN_TO_NAMED = re.compile(
    r"\b[Ss]witch(?:ing)? (?:over )?to (?!I\b|(?:Direct|Paperless|Pay|Monthly|Annual|"
    r"January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b)[A-Z][\w&.-]*")
# "after I cancelled the add-on", "you cancelled my order": history, not a threat to leave
_PAST_CANCEL = re.compile(r"(?i)^cancel+ed$")
_HISTORY_BEFORE = re.compile(
    r"(?i)\b(?:after|since|when|once|because|you|they|was|were|been|got|had)\W+(?:i\W+)?$")


def _churn_threat(text: str) -> re.Match[str] | None:
    """The first churn cue that is neither negated ("I don't want to cancel") nor history."""
    cues = sorted([*CHURN.finditer(text), *CHURN_TO_NAMED.finditer(text)],
                  key=lambda m: m.start())
    for m in cues:
        before = text[max(0, m.start() - 30) : m.start()]
        if _NEGATED.search(before):
            continue
        if _PAST_CANCEL.match(m.group(0)) and _HISTORY_BEFORE.search(before):
            continue
        return m
    return None


SAFETY = _rx(
    r"gas leak", r"smell(?:s|ing)? (?:of )?gas", r"fire", r"smoke", r"sparks?", r"sparking",
    r"electrocut\w*", r"injur(?:ed|y|ies)", r"hurt", r"unsafe", r"danger(?:ous)?",
    r"exploded?", r"burn(?:t|ed|ing)", r"carbon monoxide", r"flood(?:ed|ing)?",
)
VULNERABLE = _rx(
    r"disabled", r"disability", r"elderly", r"pensioner", r"(?:my )?(?:elderly|old|sick) "
    r"(?:mother|father|mum|dad|parent)", r"can'?t afford", r"cannot afford", r"medical",
    r"hospital", r"oxygen", r"life support", r"carer", r"vulnerable", r"dementia",
    r"bereave\w*", r"passed away", r"debt", r"food bank", r"new ?born", r"pregnant",
)
STRONG = _rx(
    r"worst", r"disgust(?:ing|ed)", r"useless", r"pathetic", r"ridiculous", r"joke",
    r"appalling", r"shambles", r"disgrace(?:ful)?", r"furious", r"outrageous", r"scam",
    r"rip[ -]?off", r"incompetent", r"unacceptable", r"fuming", r"sick of", r"fed up",
    r"f+u+c+k\w*", r"f\*+\w*", r"shit\w*", r"crap", r"bloody", r"wtf", r"hate",
)
_PLACEHOLDER = re.compile(r"\[(?:PHONE|EMAIL|CARD|POSTCODE|IBAN)\]")
_SHOUT_WORD = re.compile(r"[^\W\d_]+")
_REPEATED_PUNCT = re.compile(r"[!?]{3,}|(?:[!?]\s*){3,}")
_REPEAT_WORD = re.compile(r"[^\W\d_]{3,}")
_STOP = frozenset(
    str.split("the and you your for this that with have has was are not but all they them again")
)


@dataclass(frozen=True)
class UrgencyInput:
    """What urgency looks at for one message (model outputs may be absent)."""

    text: str
    sentiment: dict[str, float] | None = None
    emotion: dict[str, float] | None = None
    survey: SurveyScore | None = None
    recent_contacts: int = 0
    language: str = "en"
    language_supported: bool = True
    opt_out: bool = False
    #: calibrated "how upset" (processors/intensity.py); when set it replaces the
    #: sentiment/emotion probabilities, which saturate for any complaint
    intensity: float | None = None
    #: vulnerability/harm/intensity cue hits (processors/cues.py)
    cues: tuple[CueHit, ...] = ()


@dataclass
class _Score:
    parts: list[tuple[float, str]] = field(default_factory=list)
    floor: int = 0  # index into LEVELS

    def add(self, weight: float, reason: str) -> None:
        if weight > 0:
            self.parts.append((min(weight, 0.99), reason))

    def value(self) -> float:
        rest = 1.0
        for w, _ in self.parts:
            rest *= 1.0 - w
        return 1.0 - rest


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def level_for(score: float, cfg: UrgencyConfig) -> UrgencyLevel:
    if score >= cfg.critical:
        return "critical"
    if score >= cfg.high:
        return "high"
    if score >= cfg.medium:
        return "medium"
    return "low"


def _survey_cue(s: SurveyScore) -> tuple[float, str]:
    if s.kind == "nps" and s.score <= 6:
        return 0.15 + 0.05 * (6 - s.score), f"NPS detractor ({s.score})"
    if s.kind == "csat" and s.score <= 2:
        return 0.35 if s.score == 1 else 0.25, f"CSAT {s.score}/5"
    if s.kind == "ces" and s.score >= 6:
        return 0.25 if s.score == 7 else 0.18, f"CES {s.score}/7: hard to get help"
    return 0.0, ""


def _first(rx: re.Pattern[str], text: str) -> str | None:
    m = rx.search(text)
    return m.group(0).lower() if m else None


def score_urgency(inp: UrgencyInput, cfg: UrgencyConfig) -> Urgency:
    """Score one message; ``reasons`` lists the causes, strongest first."""
    if inp.opt_out:
        return Urgency(level="low", score=0.0, reasons=["opt-out request (not a complaint)"])
    s = _Score()
    text = inp.text
    model_weight = 1.0 if inp.language_supported else 0.5

    if inp.intensity is not None:
        neg = pos = 0.0
        if inp.sentiment:
            neg, pos = inp.sentiment.get("negative", 0.0), inp.sentiment.get("positive", 0.0)
        angry = 0.0
        i = inp.intensity
        if i >= cfg.upset_intensity:
            label = "very upset" if i >= cfg.rant_intensity else "upset"
            # scaled so that rant_intensity alone reaches the high level (the rant line)
            s.add(min(0.95, i * cfg.high / cfg.rant_intensity), f"{label} (intensity {i:.2f})")
            if i >= cfg.rant_intensity:
                s.floor = max(s.floor, LEVELS.index(cfg.rant_level))
        _vulnerability_and_harm(s, inp.cues, i, cfg)
    elif inp.sentiment:
        neg, pos = inp.sentiment.get("negative", 0.0), inp.sentiment.get("positive", 0.0)
        if neg >= 0.35:
            label = "very negative" if neg >= 0.85 else "negative"
            s.add(model_weight * 0.55 * (neg - 0.25) / 0.75, f"{label} sentiment ({neg:.2f})")
    else:
        neg = pos = 0.0
    if inp.intensity is None:
        angry = 0.0
    if inp.emotion and inp.intensity is None:
        anger = inp.emotion.get("anger", 0.0)
        disgust = inp.emotion.get("disgust", 0.0)
        fear = inp.emotion.get("fear", 0.0)
        sadness = inp.emotion.get("sadness", 0.0)
        angry = max(anger, disgust)
        if angry >= 0.3:
            why = "angry" if anger >= disgust else "disgusted"
            s.add(model_weight * 0.3 * max(anger, disgust), why)
        if fear >= 0.3:
            s.add(model_weight * 0.2 * fear, "worried")
        if sadness >= 0.4:
            s.add(model_weight * 0.1 * sadness, "upset")

    if cue := _first(SAFETY, text):
        s.add(0.6, f"safety risk ('{cue}')")
        s.floor = max(s.floor, LEVELS.index("critical"))
    if cue := _first(LEGAL, text):
        s.add(0.4, f"mentions legal action or a regulator ('{cue}')")
        s.floor = max(s.floor, LEVELS.index("high"))
    churn = _churn_threat(text)
    if churn:
        if CANCEL_REQUEST.search(text):
            s.add(0.15, "asks to cancel")  # a polite request: a retention lead, not a rant
        else:
            s.add(0.45, "threatens to cancel or leave")
            if neg >= 0.35 or angry >= 0.3:
                s.floor = max(s.floor, LEVELS.index("high"))  # unhappy and leaving: retention
    if cue := _first(REPEAT_PROBLEM, text):
        s.add(0.3, f"repeated problem ('{cue}')")
    elif _first(AGAIN, text):
        s.add(0.15, "problem happened again")
    if cue := _first(DURATION, text):
        s.add(0.25, f"long-running problem ('{cue}')")
    if cue := _first(IGNORED, text):
        s.add(0.3, f"feels ignored ('{cue}')")
    if inp.intensity is None and (cue := _first(VULNERABLE, text)):
        s.add(0.25, f"possibly vulnerable customer ('{cue}')")
        # a vulnerable customer with a problem gets a human follow-up
        floor = "high" if neg >= 0.4 else "medium"
        s.floor = max(s.floor, LEVELS.index(floor))
    if inp.intensity is None and (cue := _first(STRONG, text)):
        s.add(0.2, "strong language")
    if inp.survey is not None:
        w, why = _survey_cue(inp.survey)
        s.add(w, why)

    plain = _PLACEHOLDER.sub(" ", text)  # "[PHONE]" is not the customer shouting
    letters = "".join(_SHOUT_WORD.findall(plain))
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) >= 0.7:
        s.add(0.15, "SHOUTING (mostly capitals)")
    if _REPEATED_PUNCT.search(text):
        s.add(0.07, "repeated !!!/???")
    words = [w.lower() for w in _REPEAT_WORD.findall(plain) if w.lower() not in _STOP]
    if words:
        top = max(words.count(w) for w in set(words))
        if top >= 3 and top / len(words) >= 0.15:
            s.add(0.07, "repeats themselves")
    if inp.recent_contacts >= 2:
        s.add(min(0.3, 0.12 * (inp.recent_contacts - 1)),
              f"{ordinal(inp.recent_contacts)} contact in 7 days")

    score = s.value()
    if inp.intensity is None and pos >= 0.7 and not s.floor:
        score *= 0.6  # praise with a cue word ("cancel? never, love you") is not urgent
    level = level_for(score, cfg)
    if LEVELS.index(level) < s.floor:
        level = LEVELS[s.floor]
        thresholds = {"medium": cfg.medium, "high": cfg.high, "critical": cfg.critical}
        score = max(score, thresholds[level])
    reasons = [why for _, why in sorted(s.parts, key=lambda p: -p[0])]
    if not inp.language_supported:
        reasons.append(f"language {inp.language}: models out of their depth")
    return Urgency(level=level, score=round(min(1.0, max(0.0, score)), 4), reasons=reasons)


def _vulnerability_and_harm(s: _Score, cues: tuple[CueHit, ...], intensity: float,
                            cfg: UrgencyConfig) -> None:
    """Each vulnerability or harm cue is a reason in plain words; an upset vulnerable
    person, or a harm the customer is upset about, needs a person (the rant level);
    danger is always critical."""
    upset = intensity >= cfg.upset_intensity
    for h in cues:
        if h.group == "vulnerability":
            s.add(0.3, h.explain())
            s.floor = max(s.floor, LEVELS.index(cfg.rant_level if upset else "medium"))
        elif h.group == "harm":
            s.add(0.4, h.explain())
            if h.id == "safety":
                s.floor = max(s.floor, LEVELS.index("critical"))
            elif upset:
                s.floor = max(s.floor, LEVELS.index(cfg.rant_level))


def is_rant(level: UrgencyLevel, cfg: UrgencyConfig) -> bool:
    return LEVELS.index(level) >= LEVELS.index(cfg.rant_level)


def priority_for(level: UrgencyLevel) -> Priority:
    """critical -> P1, high -> P2, anything lower that still counts as a rant -> P3."""
    return PRIORITY_BY_LEVEL.get(level, "P3")


def due_by(priority: Priority, now: datetime, cfg: UrgencyConfig) -> datetime:
    hours = cfg.followup_hours.get(priority, {"P1": 4.0, "P2": 24.0, "P3": 72.0}[priority])
    return now + timedelta(hours=hours)
