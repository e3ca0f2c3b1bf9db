"""The batch enrichment API: inbound records in, EnrichedFeedback (+ FollowUp) out.

``Enricher.enrich_batch`` runs normalize -> redact -> language on every item,
then ONE ``analyzer.analyze`` call for all non-empty texts of the batch (the
shared encoder forward), then subjects, urgency, the rant decision and, for
rants, a FollowUp with a suggested reply. ``parse_inbound`` turns raw bytes
into a record or raises ``InvalidInput`` with a machine-readable reason that
the stream layer uses for the dead-letter topic; its messages never contain
the message text (it may hold PII).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError

from processors.calibration import Calibration
from processors.config import EnrichConfig
from processors.cues import find_cues
from processors.intensity import default_model as default_intensity_model
from processors.intensity import load_model as load_intensity_model
from processors.intensity import score_intensity
from processors.language import UNDETERMINED, detect_language, warm_up
from processors.model_files import calibration_file, intensity_file, model_languages
from processors.normalize import Feedback, clean_and_truncate, normalize
from processors.redact import redact
from processors.reply import suggest_reply, summarize
from processors.taxonomy import SubjectMatcher, load_taxonomy
from processors.types import TextAnalyzer, TextSignals
from processors.urgency import UrgencyInput, due_by, is_rant, priority_for, score_urgency
from schemas.errors import describe_validation_error
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS
from schemas.records import (
    SCHEMA_VERSION,
    Emotion,
    EnrichedFeedback,
    FollowUp,
    InboundSMS,
    ModelInfo,
    PiiReport,
    Sentiment,
    SurveyReply,
    SurveyScore,
    UnsupportedSchemaVersion,
    check_schema_version,
)

Source = Literal["sms", "survey"]
MAX_INBOUND_BYTES = 2_000_000  # a record's text is capped at 1,000,000 chars by the schema

# Reasons a raw record is rejected (the dead-letter topic's ``reason`` field).
REASONS = (
    "empty_message",  # zero-length value (tombstone, broken gateway)
    "too_large",  # over MAX_INBOUND_BYTES before parsing
    "invalid_json",  # not UTF-8, not JSON, NaN, BOM, lone surrogates, absurd nesting
    "invalid_record",  # JSON but not a valid SMS/survey record (types, missing fields, ranges)
    "unsupported_schema_version",  # from a producer newer than this worker
    "empty_text",  # SMS whose body is empty after clean-up (survey comments may be empty)
)


class InvalidInput(ValueError):
    """A raw inbound record that cannot be enriched; ``reason`` is one of ``REASONS``.

    ``detail`` names fields and rules only, never the message text (PII).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class EnrichResult:
    """One enriched message and, when it is a rant, its follow-up."""

    feedback: EnrichedFeedback
    followup: FollowUp | None = None


# --------------------------------------------------------------------------- parsing


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(s: str) -> int | float:
    # Python refuses ints over 4300 digits with a ValueError that would read as
    # invalid JSON; it is valid JSON, just an impossible value -> schema error.
    return int(s) if len(s) <= 300 else math.inf


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(obj: Any, depth: int = 0) -> bool:
    if isinstance(obj, str):
        return _SURROGATE.search(obj) is not None  # one C-level scan, not a Python loop
    if depth > 50:
        return False
    if isinstance(obj, dict):
        return any(
            _has_surrogate(k, depth + 1) or _has_surrogate(v, depth + 1) for k, v in obj.items()
        )
    if isinstance(obj, list):
        return any(_has_surrogate(v, depth + 1) for v in obj)
    return False


def detect_source(obj: dict[str, Any]) -> Source | None:
    """SMS if it has an SMS id/body, survey if it has a response id."""
    if "message_id" in obj or "body" in obj:
        return "sms"
    if "response_id" in obj:
        return "survey"
    return None


def parse_inbound(raw: bytes, source: Source | None = None) -> InboundSMS | SurveyReply:
    """Validate raw bytes as an inbound SMS or survey reply, or raise ``InvalidInput``."""
    if not raw:
        raise InvalidInput("empty_message", "the record value is empty")
    if len(raw) > MAX_INBOUND_BYTES:
        raise InvalidInput("too_large", f"{len(raw)} bytes, limit {MAX_INBOUND_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput("invalid_json", f"not UTF-8 (byte offset {e.start})") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise InvalidInput("invalid_json", f"{e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise InvalidInput("invalid_json", "nested too deeply") from None
    except ValueError as e:
        raise InvalidInput("invalid_json", str(e)[:200]) from None
    if not isinstance(obj, dict):
        raise InvalidInput("invalid_record", f"expected a JSON object, got {type(obj).__name__}")
    if _has_surrogate(obj):
        raise InvalidInput("invalid_json", "lone UTF-16 surrogate escape in a string")
    version = obj.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and not isinstance(version, bool):
        try:
            check_schema_version(version)
        except UnsupportedSchemaVersion as e:
            raise InvalidInput("unsupported_schema_version", str(e)) from None
    kind = source or detect_source(obj)
    if kind is None:
        raise InvalidInput(
            "invalid_record", "cannot tell an SMS (message_id, body) from a survey (response_id)"
        )
    model = InboundSMS if kind == "sms" else SurveyReply
    try:
        record = model.model_validate(obj)
    except ValidationError as e:
        raise InvalidInput(
            "invalid_record", f"{kind}: {describe_validation_error(e, limit=5)}") from None
    if isinstance(record, InboundSMS) and not clean_and_truncate(record.body, 1000)[0]:
        raise InvalidInput("empty_text", "SMS body is empty after removing whitespace/controls")
    return record


# --------------------------------------------------------------------------- enrichment


def _default_analyzer(config: EnrichConfig) -> TextAnalyzer:
    from processors import encoder

    loader = getattr(encoder, "load_analyzer", None)
    if loader is not None:
        return loader(config.model)  # type: ignore[no-any-return]
    return encoder.EncoderAnalyzer(config.model)


def _survey_only_signals(survey: SurveyScore | None) -> tuple[dict[str, float], dict[str, float]]:
    """Sentiment from the score alone (no comment to read); emotion stays neutral."""
    neutral_emotion: dict[str, float] = {
        lab: (1.0 if lab == "neutral" else 0.0) for lab in EMOTION_LABELS}
    if survey is None:
        return {"negative": 0.0, "neutral": 1.0, "positive": 0.0}, neutral_emotion
    lo, hi = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[survey.kind]
    x = (survey.score - lo) / (hi - lo)  # 0 worst .. 1 best
    if survey.kind == "ces":
        x = 1.0 - x  # CES: 7 = very hard
    if survey.kind == "nps":
        neg = 1.0 if survey.score <= 6 else 0.0
        pos = 1.0 if survey.score >= 9 else 0.0
        neg = neg * (0.6 + 0.4 * (6 - survey.score) / 6) if neg else 0.0
        pos = pos * 0.8 if pos else 0.0
    else:
        neg = max(0.0, 1.0 - 2 * x) * 0.9
        pos = max(0.0, 2 * x - 1.0) * 0.9
    return {"negative": neg, "neutral": max(0.0, 1.0 - neg - pos), "positive": pos}, neutral_emotion


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _sentiment(probs: dict[str, float]) -> Sentiment:
    label = max(SENTIMENT_LABELS, key=lambda k: probs.get(k, 0.0))
    score = float(np.clip(probs.get("positive", 0.0) - probs.get("negative", 0.0), -1.0, 1.0))
    return Sentiment(label=label, score=round(score, 4))


def _emotion(probs: dict[str, float]) -> Emotion:
    scores = {lab: round(float(probs.get(lab, 0.0)), 4) for lab in EMOTION_LABELS}
    label = max(EMOTION_LABELS, key=lambda k: scores[k])
    return Emotion(label=label, scores=scores)


class Enricher:
    """Stateless apart from the loaded models: safe to share across batches."""

    def __init__(self, config: EnrichConfig, analyzer: TextAnalyzer | None = None, *,
                 warm_language: bool = True, use_intensity: bool = True,
                 calibrate: bool = True) -> None:
        """``calibrate=False`` ignores the customer-domain calibration
        (processors/calibration.py; for before/after measurements).
        ``warm_language=False`` leaves lingua's models (about 0.5 s of CPU) to the
        first message that needs them: most never do (see processors/language.py), and a
        one-shot ``voc classify`` should not pay for them up front; the worker warms."""
        self.config = config
        # False: urgency from the polarity probability and the old keyword list, as before
        # issue 19 (bench/customer_set.py measures both in one run)
        self.use_intensity = use_intensity
        self.analyzer: TextAnalyzer = (
            analyzer if analyzer is not None else _default_analyzer(config)
        )
        self.taxonomy = load_taxonomy(config.taxonomy_path)
        calibration = Calibration.load(calibration_file(config.model.encoder)) \
            if calibrate else None
        dim = int(np.asarray(self.analyzer.embed(["calibration probe"])).shape[1]) \
            if calibration is not None else 0
        #: customer-domain emotion layer and topic heads, when fitted on these heads
        self.calibration = calibration if calibration is not None and calibration.fits(
            str(self.analyzer.version), dim) else None
        self.subjects = SubjectMatcher(
            self.taxonomy, self.analyzer,
            self.calibration.topics if self.calibration is not None else None,
            self.calibration.similarity_map if self.calibration is not None else None)
        #: the languages this encoder's heads were trained for (language_supported)
        self.languages = model_languages(config.model.encoder)
        intensity_path = intensity_file(config.model.encoder)
        #: the intensity model fitted on this encoder's heads (MiniLM's when it has none)
        self.intensity_model = load_intensity_model(intensity_path) \
            if intensity_path.is_file() else default_intensity_model()
        if warm_language:
            warm_up()
        self.model_info = ModelInfo(
            encoder=str(self.analyzer.name), version=str(self.analyzer.version)
        )

    def enrich_one(
        self, item: InboundSMS | SurveyReply, recent_contacts: int = 0, now: datetime | None = None
    ) -> EnrichResult:
        return self.enrich_batch([item], [recent_contacts], now)[0]

    def enrich_batch(
        self,
        items: Sequence[InboundSMS | SurveyReply],
        recent_contacts: Sequence[int] | None = None,
        now: datetime | None = None,
    ) -> list[EnrichResult]:
        """Enrich in input order; ``recent_contacts[i]`` counts item i's customer's
        contacts in the last 7 days, this one included (1 = first contact)."""
        if recent_contacts is not None and len(recent_contacts) != len(items):
            raise ValueError("recent_contacts must have one entry per item")
        now = now or datetime.now(UTC)
        feedbacks = [normalize(it, self.config.max_text_chars) for it in items]
        redactions = [redact(fb.text) for fb in feedbacks]
        languages = [detect_language(r.text) for r in redactions]
        to_analyze = [i for i, (fb, r) in enumerate(zip(feedbacks, redactions, strict=True))
                      if r.text and not fb.opt_out]
        signals: dict[int, TextSignals] = {}
        if to_analyze:
            out = self.analyzer.analyze([redactions[i].text for i in to_analyze])
            signals = dict(zip(to_analyze, out, strict=True))
        results = []
        for i, fb in enumerate(feedbacks):
            contacts = recent_contacts[i] if recent_contacts is not None else 0
            results.append(
                self._finish(fb, redactions[i], languages[i], signals.get(i), contacts, now)
            )
        return results

    def _finish(self, fb: Feedback, red: Any, lang: Any, sig: TextSignals | None,
                contacts: int, now: datetime) -> EnrichResult:
        if sig is not None:
            sent_p, emo_p = sig.sentiment, sig.emotion
            subjects = [] if fb.opt_out else self.subjects.match(red.text, sig.embedding)
        else:
            sent_p, emo_p = _survey_only_signals(fb.survey)
            subjects = []
        # the encoder's languages, not the detector's list: MiniLM's heads read English only
        supported = lang.code == UNDETERMINED or lang.code in self.languages
        hits = [] if fb.opt_out else find_cues(red.text)
        if sig is not None and not fb.opt_out and self.calibration is not None:
            hits += self.calibration.meaning_cues(sig.embedding, hits)
        intensity = 0.0 if fb.opt_out else score_intensity(
            red.text, sent_p if sig is not None else None,
            emo_p if sig is not None else None, hits, english=lang.code == "en",
            model=self.intensity_model)
        urgency = score_urgency(
            UrgencyInput(
                text=red.text,
                # score-only survey: the score is the one signal, counted once (below)
                sentiment=sent_p if sig is not None else None,
                emotion=emo_p if sig is not None else None,
                survey=fb.survey, recent_contacts=contacts, language=lang.code,
                language_supported=supported, opt_out=fb.opt_out,
                intensity=intensity if self.use_intensity else None,
                cues=tuple(hits) if self.use_intensity else (),
            ),
            self.config.urgency,
        )
        rant = (not fb.opt_out) and is_rant(urgency.level, self.config.urgency)
        # the customer-domain layer changes the reported emotion only: urgency keeps the
        # GoEmotions probabilities it was tuned on (processors/urgency.py)
        emotion = _emotion(self.calibration.emotion(emo_p, sig.embedding)
                           if sig is not None and self.calibration is not None else emo_p)
        feedback = EnrichedFeedback(
            id=fb.id, channel=fb.channel, brand=fb.brand, customer_id=fb.customer_id,
            received_at=fb.received_at, enriched_at=now, text=red.text, survey=fb.survey,
            language=lang.code, language_supported=supported, opt_out=fb.opt_out,
            truncated=fb.truncated, sentiment=_sentiment(sent_p), emotion=emotion,
            intensity=intensity,
            topics=subjects, urgency=urgency, is_rant=rant,
            pii=PiiReport(redacted=red.redacted, kinds=red.kinds, detector=red.detector),
            model=self.model_info,
        )
        if not rant:
            return EnrichResult(feedback=feedback)
        priority = priority_for(urgency.level)
        followup = FollowUp(
            id=f"followup:{fb.id}", feedback_id=fb.id, customer_id=fb.customer_id,
            brand=fb.brand, priority=priority, created_at=now,
            # from the event's own time, not this worker's clock: enriching the same message
            # again (a replay, a restart) gives the same deadline
            due_by=due_by(priority, _utc(fb.received_at), self.config.urgency),
            reasons=urgency.reasons,
            summary=summarize(fb.channel, emotion.label, subjects, urgency.reasons, priority),
            suggested_reply=suggest_reply(red.text, emotion.label, subjects,
                                          quote=lang.code in ("en", "und")),
            feedback=feedback,
        )
        return EnrichResult(feedback=feedback, followup=followup)
