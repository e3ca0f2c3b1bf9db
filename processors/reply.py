"""Suggested opener for a rant: name the feeling and its cause in the customer's words.

Active listening, templated and deterministic: the feeling comes from the
emotion label, the cause is a short clause lifted from the (redacted) message
with its pronouns turned round ("you charged me twice" -> "we charged you
twice"). Nothing is invented: no promises of refunds, no facts the customer did
not state. Clauses with PII placeholders or swearing are avoided or cleaned.
"""

from __future__ import annotations

import re

from processors.taxonomy import split_clauses
from schemas.records import Subject

FEELINGS: dict[str, tuple[str, str]] = {
    # emotion -> (opening, closing)
    "anger": ("I can hear how frustrating it is", "I'm sorry. Let's put this right."),
    "disgust": ("I can hear how let down you feel", "I'm sorry. Let's put this right."),
    "sadness": ("I'm sorry, it sounds really disappointing", "Let's see what we can do."),
    "fear": ("I understand how worrying it is", "Let's sort this out together."),
    "surprise": ("I can hear how frustrating it is", "I'm sorry. Let's put this right."),
    "neutral": ("I can hear how frustrating it is", "I'm sorry. Let's put this right."),
    "joy": ("I can hear how frustrating it is", "I'm sorry. Let's put this right."),
}
NO_CAUSE = "I can hear how frustrated you are, and I'm sorry. Let's put this right."

_PLACEHOLDER = re.compile(
    r"\[(?:PHONE|EMAIL|CARD|POSTCODE|IBAN|SORTCODE|ACCOUNT|SSN|NINO|PASSPORT|DOB|NAME|ADDRESS|"
    r"SECRET)\]")
# Markup is never echoed: an agent's tool may render the reply as HTML. Comments, CDATA,
# scripts and styles go with their content, then tags and entities; whatever angle
# brackets remain are dropped. Linear time: blocks are cut with str.find (an unclosed
# block swallows the rest, as a browser would), tags by a pattern that stops at "<".
_BLOCKS = (("<!--", "-->"), ("<![cdata[", "]]>"), ("<script", "</script"), ("<style", "</style"))
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,2000}>|<![^<>]{0,2000}>")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9A-Fa-f]{1,6}|[A-Za-z]{2,10});")


def _cut_blocks(text: str) -> str:
    low = text.lower()
    for opener, closer in _BLOCKS:
        if opener not in low:
            continue
        out: list[str] = []
        pos = 0
        while True:
            i = low.find(opener, pos)
            if i < 0:
                break
            out.append(text[pos:i])
            j = low.find(closer, i + len(opener))
            if j < 0:
                pos = len(text)
                break
            end = low.find(">", j) if closer.startswith("</") else j + len(closer) - 1
            pos = len(text) if end < 0 else end + 1
        out.append(text[pos:])
        text = " ".join(out)
        low = text.lower()
    return text


def plain_text(text: str) -> str:
    """The message without HTML/XML markup: comments, CDATA, scripts and styles removed
    with their content, tags removed, entities dropped, leftover angle brackets removed."""
    text = _TAG.sub(" ", _cut_blocks(text))
    text = _ENTITY.sub(" ", text)
    text = text.replace("<", " ").replace(">", " ")
    return re.sub(r"\s+", " ", text).strip()
_PROFANITY = re.compile(
    r"(?i)\b(?:f+u+c+k\w*|f\*+\w*|shit\w*|crap(?:py)?|bloody|damn(?:ed)?|bullshit|wtf|"
    r"hell|arse\w*|ass(?:holes?)?|bastards?|pissed(?: off)?)\b"
)
_NEGATIVE_CUES = re.compile(
    r"(?i)\b(?:not|never|no|can't|cannot|won't|didn't|don't|still|again|twice|wrong|late|"
    r"broken|charged|waiting|hours|days|rude|cancel\w*|worst|awful|terrible|useless|failed|"
    r"missing|lost|down|refund|overcharged|nobody|no one)\b"
)
# Clauses that insult the company are not quoted back ("why we are so useless").
_INSULT = re.compile(
    r"(?i)\b(?:useless|pathetic|joke|jokers|incompetent|idiots?|morons?|clowns?|scam\w*|"
    r"thieves|thieving|liars?|crooks?|cowboys|disgrace\w*|rubbish|garbage|a shambles)\b"
)
_GREETING = re.compile(r"(?i)^(?:hi|hello|hey|dear \w+|to whom it may concern|ok|so|well)\b[,!. ]*")

# Pronoun turn-round, most specific first (customer's view -> agent's view).
_SWAPS: list[tuple[str, str]] = [
    (r"\bi am\b", "you are"), (r"\bi'm\b", "you're"), (r"\bim\b", "you're"),
    (r"\bi was\b", "you were"), (r"\bi've\b", "you've"), (r"\bive\b", "you've"),
    (r"\bi'd\b", "you'd"), (r"\bi'll\b", "you'll"), (r"\bi\b", "you"),
    (r"\bme\b", "you"), (r"\bmy\b", "your"), (r"\bmine\b", "yours"), (r"\bmyself\b", "yourself"),
    (r"\byou are\b", "we are"), (r"\byou're\b", "we're"), (r"\byou were\b", "we were"),
    (r"\byou've\b", "we've"), (r"\byou'll\b", "we'll"), (r"\byou guys\b", "we"),
    (r"\byou\b", "we"), (r"\byour\b", "our"), (r"\byours\b", "ours"),
    (r"\bwe're\b", "you're"), (r"\bwe\b", "you"), (r"\bour\b", "your"), (r"\bus\b", "you"),
]


# "you" as an object becomes "us" ("money I don't owe you" -> "money you don't owe us"):
# after a preposition or a verb, unless a verb follows ("since I moved you have ...").
_PREPOSITIONS = frozenset({
    "to", "for", "with", "at", "from", "about", "on", "by", "of", "than", "without", "against",
    "towards"})  # not after/before: they mostly start a clause ("before you fix it")
_OBJECT_VERBS = frozenset({
    "owe", "pay", "paid", "tell", "told", "call", "ask", "asked", "email", "emailed", "phone",
    "phoned", "ring", "rang", "trust", "sue", "contact", "contacted", "message", "messaged",
    "chase", "chased", "give", "gave", "thank", "join", "joined", "leave", "left", "reported"})
_VERB_AFTER = re.compile(
    r"(?i)^(?:have|has|had|are|were|will|would|can|can't|could|did|didn't|do|don't|never|"
    r"still|keep|kept|always|just|said|sent|took|cut|\w+ed)$")


def _you_is_object(phrase: str, start: int, end: int) -> bool:
    before = re.findall(r"[\w']+", phrase[:start])
    after = re.findall(r"[\w']+", phrase[end:])
    if not before:
        return False
    prev = before[-1].lower()
    if prev not in _PREPOSITIONS and prev not in _OBJECT_VERBS and not re.search(
            r"\w(?:ed|ing)$", prev):
        return False
    return not (after and _VERB_AFTER.match(after[0]))


def _swap_pronouns(phrase: str) -> str:
    """Turn the customer's first/second person round, in one pass so swaps don't chain."""
    combined = re.compile("|".join(f"(?P<g{i}>{p})" for i, (p, _) in enumerate(_SWAPS)), re.I)

    def repl(m: re.Match[str]) -> str:
        for i, (_, new) in enumerate(_SWAPS):
            if m.group(f"g{i}") is not None:
                if new == "we" and m.group(0).lower() == "you" and _you_is_object(
                        phrase, m.start(), m.end()):
                    return "us"
                return new
        return m.group(0)

    return combined.sub(repl, phrase)


def _clean(clause: str) -> str:
    clause = _PLACEHOLDER.sub("", clause)
    clause = _PROFANITY.sub("", clause)
    clause = _GREETING.sub("", clause.strip())
    clause = re.sub(r"[!?]+|\.{2,}", "", clause)
    clause = re.sub(r"\s+", " ", clause).strip(" ,.;:-–—'\"")
    # drop prepositions left dangling by a removed placeholder ("call me on")
    clause = re.sub(r"(?i)\s+(?:on|at|to|from|via|number|is)$", "", clause)
    letters = [c for c in clause if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        clause = clause.lower()
    # shouted words are quoted back calmly; short acronyms (NHS, FCA) stay
    clause = re.sub(r"\b[A-Z]{4,}\b", lambda m: m.group(0).lower(), clause)
    words = clause.split()
    if len(words) > 14:
        clause = " ".join(words[:14])
    return clause


_WH_DO = re.compile(r"(?i)^(why|how come|how|when|where|what)\s+(?:do|does|did)\s+(.+)$")
_WH_AUX = re.compile(
    r"(?i)^(why|how come|how|when|where|what)\s+"
    r"(is|are|was|were|has|have|had|can't|cannot|won't|isn't|aren't|wasn't|hasn't|haven't|"
    r"can|will|should|would|does|do|did)\s+"
    r"((?:my|your|our|the|this|that|his|her|their)\s+[\w'-]+|it|we|you|they|i|he|she)\b\s*(.*)$"
)
_QUESTION_START = re.compile(
    r"(?i)^(?:why|how|what|when|where|who|is|are|do|does|did|can|could|will|would|should|"
    r"has|have|isn't|aren't|don't|doesn't|won't|can't)\b"
)


def _as_reported_question(clause: str) -> str | None:
    """"why is my internet down" -> "why my internet is down"; yes/no questions -> None."""
    m = re.match(r"(?i)^how come\s+(.+)$", clause)
    if m:
        return f"how come {m.group(1)}"
    m = re.match(r"(?i)^(what|who)\s+((?:is|was|has|happened|keeps)\b.*)$", clause)
    if m and not _WH_AUX.match(clause):
        return f"{m.group(1).lower()} {m.group(2)}"  # the wh-word is the subject: no inversion
    m = _WH_DO.match(clause)
    if m:
        return f"{m.group(1).lower()} {m.group(2)}"
    m = _WH_AUX.match(clause)
    if m:
        rest = f" {m.group(4)}" if m.group(4) else ""
        return f"{m.group(1).lower()} {m.group(3)} {m.group(2).lower()}{rest}"
    return None


_IMPERATIVE = re.compile(
    r"(?i)^(?:please|pls|stop|sort|fix|refund|cancel|give|send|call|ring|tell|just|get|pay)\b")
# The customer often drops the subject ("been on hold two hours"): put it back.
_SUBJECTLESS = [
    (re.compile(r"^been\b"), "you've been"),
    (re.compile(r"^(still )?waiting\b"), r"you're \1waiting"),
    (re.compile(r"^(over)?charged\b"), r"you were \1charged"),
]
# A fragment with no subject to hang "that ..." on ("no signal since Monday", "wrong item
# delivered", "£12.50 gone") follows a colon instead.
_FRAGMENT = re.compile(
    r"(?i)^(?:no\b(?! one)|not\b|wrong\b|missed\b|missing\b|another\b|"
    r"(?:second|third|fourth|fifth) time\b|[£$€]|\d)")


def pick_cause(text: str, subjects: list[Subject]) -> tuple[str, bool]:
    """The clause that best says what went wrong, cleaned for quoting back, and whether
    it is a (reported) question. ("", False) when nothing is quotable."""
    clauses = split_clauses(text)
    candidates: list[tuple[int, int, str, bool]] = []
    for i, c in enumerate(clauses):
        evidence_hit = any(t.evidence and t.evidence.lower() in c.lower() for t in subjects[:2])
        cues = len(_NEGATIVE_CUES.findall(c))
        has_pii = bool(_PLACEHOLDER.search(c))
        score = 3 * evidence_hit + cues - 2 * has_pii
        if _INSULT.search(c):
            continue
        cleaned = _clean(c)
        if _IMPERATIVE.match(cleaned):
            continue  # a demand ("please cancel my broadband") is not the cause
        question = c.rstrip().endswith("?") or bool(_QUESTION_START.match(cleaned))
        if question:
            reported = _as_reported_question(cleaned)
            if reported is None:
                continue  # "is anyone there?" says nothing quotable about the cause
            cleaned, score = reported, score - 1
        if len(cleaned.split()) >= 2:
            candidates.append((score, -i, cleaned, question))
    if not candidates:
        return "", False
    best = max(candidates)
    return best[2], best[3]


def suggest_reply(text: str, emotion: str, subjects: list[Subject], quote: bool = True) -> str:
    """One or two sentences an agent can open with; deterministic for the same input.

    ``quote=False`` (text not in English) gives the generic opener: turning pronouns round
    only works in English, and a half-translated quote would read worse than none.
    """
    text = plain_text(text)
    cause, question = pick_cause(text, subjects) if quote else ("", False)
    opening, closing = FEELINGS.get(emotion, FEELINGS["anger"])
    if not cause:
        return NO_CAUSE
    cause = _swap_pronouns(cause)
    cause = cause[0].lower() + cause[1:] if cause[:2] != "I " else cause
    if question:
        return plain_text(f"{opening}, and you're asking {cause}. {closing}")
    for pattern, subject in _SUBJECTLESS:
        cause = pattern.sub(subject, cause, count=1)
    # after the dash the closing continues the sentence: "— let's sort this out together."
    closing = closing if closing.startswith("I") else closing[0].lower() + closing[1:]
    joint = ":" if _FRAGMENT.match(cause) else " that"
    return plain_text(f"{opening}{joint} {cause} — {closing}")


def summarize(
    channel: str, emotion: str, subjects: list[Subject], reasons: list[str], priority: str
) -> str:
    """A one-line case title: priority, channel, feeling, subjects and the top reasons."""
    feeling = {"anger": "Angry", "disgust": "Disgusted", "fear": "Worried",
               "sadness": "Upset", "joy": "Mixed", "surprise": "Surprised"}.get(emotion, "Unhappy")
    what = ", ".join(t.name for t in subjects[:3]) or "general"
    why = "; ".join(reasons[:3]) or "no specific cue"
    kind = "SMS" if channel == "sms" else "survey reply"
    return f"{priority}: {feeling} {kind} about {what} — {why}"
