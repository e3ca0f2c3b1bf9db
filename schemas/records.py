"""Records on the wire, exactly as in docs/architecture.md.

Inbound records are strict about what they need and tolerant of extra fields
(gateways add their own); outbound records are strict both ways, so a
downstream team can rely on every field. ``schema_version`` lets consumers
reject what they do not understand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from schemas.labels import EmotionLabel, SentimentLabel

SCHEMA_VERSION = 1
# The dead-letter record has its own version: v2 stopped carrying the original by default.
DEADLETTER_SCHEMA_VERSION = 2
# What this worker writes as EnrichedFeedback and FollowUp. v2 (issue 18): customer_id is a
# keyed pseudonym, and the optional time_corrected and pii.detector fields exist. Readers
# take every version in OUTPUT_SCHEMA_VERSIONS, so records a v1 worker left on the topics
# still index after an upgrade.
OUTPUT_SCHEMA_VERSION = 2
OUTPUT_SCHEMA_VERSIONS = (1, 2)

UrgencyLevel = Literal["low", "medium", "high", "critical"]
Priority = Literal["P1", "P2", "P3"]
Channel = Literal["sms", "survey"]
SurveyKind = Literal["nps", "csat", "ces"]
OutcomeKind = Literal["claimed", "contacted", "resolved", "no_answer", "escalated", "closed"]
AuditAction = Literal[
    "login", "login_failed", "logout", "claimed", "contacted", "no_answer", "resolved",
    "escalated", "closed", "redrive", "discard", "alert", "user_added",
]



class UnsupportedSchemaVersion(ValueError):
    """A record from a producer newer (or older) than the schema this worker reads."""


def check_schema_version(version: int) -> int:
    """The one schema-version check: inbound models validate with it, and
    ``processors.pipeline.parse_inbound`` runs it first to give the failure its own reason."""
    if version != SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(
            f"unsupported schema_version {version} (this worker reads {SCHEMA_VERSION})")
    return version


NonEmptyId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PII_KINDS = ("phone", "email", "card", "postcode", "iban", "sortcode", "account", "ssn", "nino",
             "passport", "dob", "name", "address", "secret")


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        return check_schema_version(v)


class InboundSMS(_Inbound):
    """An SMS reply as posted by the gateway's webhook."""

    message_id: NonEmptyId
    sender: str = Field(alias="from", min_length=1, max_length=64)
    to: str | None = Field(default=None, max_length=64)
    body: str = Field(max_length=1_000_000)
    received_at: datetime
    brand: NonEmptyId
    customer_id: NonEmptyId | None = None


class SurveyReply(_Inbound):
    """A survey answer (NPS 0-10, CSAT 1-5, CES 1-7) with an optional comment."""

    response_id: NonEmptyId
    survey_id: NonEmptyId
    customer_id: NonEmptyId
    brand: NonEmptyId
    submitted_at: datetime
    kind: SurveyKind
    score: int
    comment: str = Field(default="", max_length=1_000_000)

    @field_validator("score")
    @classmethod
    def _score_in_range(cls, v: int, info) -> int:  # type: ignore[no-untyped-def]
        kind = info.data.get("kind")
        lo, hi = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}.get(kind, (0, 10))
        if not lo <= v <= hi:
            raise ValueError(f"{kind} score {v} outside {lo}-{hi}")
        return v


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_output_schema_version(version: int) -> int:
    """Outbound records this worker can read back (the index and follow-up agents do)."""
    if version not in OUTPUT_SCHEMA_VERSIONS:
        raise UnsupportedSchemaVersion(
            f"unsupported schema_version {version} (this worker reads {OUTPUT_SCHEMA_VERSIONS})")
    return version


class SurveyScore(_Out):
    kind: SurveyKind
    score: int


class Sentiment(_Out):
    label: SentimentLabel
    score: float = Field(ge=-1.0, le=1.0, description="signed: -1 most negative, +1 most positive")


class Emotion(_Out):
    label: EmotionLabel
    scores: dict[EmotionLabel, float]


# One taxonomy subject a message is about (billing, delivery, ...), with its evidence.
# (A comment, not a docstring: a docstring would enter the published JSON Schema.) On the
# wire it keeps the title ``TopicTag`` and sits in ``EnrichedFeedback.topics``: wire names
# are a public contract (docs/naming.md).
class Subject(_Out):
    model_config = ConfigDict(extra="forbid", title="TopicTag")

    name: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str = Field(description="phrase taken from the (redacted) message")


class Urgency(_Out):
    level: UrgencyLevel
    score: float = Field(ge=0.0, le=1.0)
    reasons: list[str]


class PiiReport(_Out):
    redacted: bool = Field(description=(
        "something was replaced; false means the detector found nothing it knows, "
        "not that the text is verified free of personal data"))
    kinds: list[str] = Field(description="kinds replaced (placeholders in text), sorted")
    detector: str = Field(default="", description=(
        "version of the PII detector that ran (empty on records written before it was "
        "recorded)"))


class ModelInfo(_Out):
    encoder: str
    version: str


class EnrichedFeedback(_Out):
    """One per valid inbound message; ``id`` is the search _id and the dedupe key."""

    schema_version: int = OUTPUT_SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _readable_version(cls, v: int) -> int:
        return check_output_schema_version(v)

    id: str
    channel: Channel
    brand: str
    customer_id: str | None
    received_at: datetime
    enriched_at: datetime
    text: str = Field(description="PII-redacted text")
    survey: SurveyScore | None = None
    language: str
    language_supported: bool = True
    opt_out: bool = False
    truncated: bool = Field(default=False, description="text was cut to the configured maximum")
    time_corrected: bool = Field(
        default=False, description="the message's own time lay outside the skew window "
        "around the broker's timestamp, so received_at is the broker's timestamp")
    sentiment: Sentiment
    emotion: Emotion
    intensity: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="how upset, 0-1, separate from polarity (0.25 mild, 0.5 a firm "
        "complaint, 0.75+ strongly upset); v2; 0 on v1 records, which did not carry it")
    topics: list[Subject]  # wire name kept: a public contract (docs/naming.md)
    urgency: Urgency
    is_rant: bool
    pii: PiiReport
    model: ModelInfo


class FollowUp(_Out):
    """A human follow-up for a rant: who, how soon, why, and how to open the call."""

    schema_version: int = OUTPUT_SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _readable_version(cls, v: int) -> int:
        return check_output_schema_version(v)

    id: str
    feedback_id: str
    customer_id: str | None
    brand: str
    priority: Priority
    created_at: datetime
    due_by: datetime
    reasons: list[str]
    summary: str
    suggested_reply: str
    feedback: EnrichedFeedback


class FollowUpOutcome(_Inbound):
    """What the case tool (or the console) reports back about a follow-up.

    ``action_id`` makes a retried or double-submitted action idempotent, and
    ``expected_version`` is the follow-up version the operator saw: the follow-up agent
    applies the outcome only if nobody acted in between, so two operators never both win.
    """

    followup_id: NonEmptyId
    outcome: OutcomeKind
    at: datetime
    agent: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=10_000)
    action_id: str | None = Field(default=None, min_length=1, max_length=64,
                                  pattern=r"^[A-Za-z0-9_.:-]+$")
    expected_version: int | None = Field(default=None, ge=1)


class DeadLetter(_Out):
    """Bad input, with why, a redacted preview and a keyed hash of the original; the
    original bytes themselves only when the operator keeps them (``original_kept``).

    Version 2 (``DEADLETTER_SCHEMA_VERSION``) added ``original_kept``, ``original_hmac``,
    ``original_size`` and ``preview``; ``original_b64`` is still always present (empty
    when the original is not kept), so a version-1 reader still parses the record.
    """

    schema_version: int = DEADLETTER_SCHEMA_VERSION
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    reason: str = Field(description="short machine-readable cause, e.g. invalid_json")
    error: str = Field(description="human-readable detail")
    original_b64: str = Field(
        default="", description="the original bytes, base64; empty unless original_kept")
    original_kept: bool = Field(
        default=True, description="original_b64 holds the original (re-drive possible); "
        "version-1 records always kept it")
    original_hmac: str | None = Field(
        default=None, description="HMAC-SHA256 (hex) of the whole original under the "
        "pseudonym key: equal originals have equal hashes")
    original_size: int | None = Field(default=None, ge=0,
                                      description="length of the original in bytes")
    preview: str | None = Field(
        default=None, description="PII-redacted, markup-free start of the customer's text")
    failed_at: datetime


class AuditEvent(_Out):
    """Who did what to which case, dead letter or alert, and when (written by the console)."""

    schema_version: int = SCHEMA_VERSION
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    at: datetime
    actor: str = Field(min_length=1, max_length=200)
    role: str = Field(default="", max_length=20)
    action: AuditAction
    target: str = Field(default="", max_length=300)
    detail: str = Field(default="", max_length=20_000)
    result: str = Field(default="ok", max_length=200)
