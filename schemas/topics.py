"""The contract's Kafka topics: what each one is keyed by and what its values are.

Names here are the defaults (before the optional prefix); the running service
takes the actual names and partition counts from ``streams.settings`` (whose
defaults match these, a test checks). Downstream teams read this table (and the
JSON Schemas in ``schemas/jsonschema/``) to know what to expect on each topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from schemas.records import (
    AuditEvent,
    DeadLetter,
    EnrichedFeedback,
    FollowUp,
    FollowUpOutcome,
    InboundSMS,
    SurveyReply,
)


@dataclass(frozen=True)
class TopicDef:
    """One topic of the contract."""

    logical: str  # field name in streams.settings.TopicNames
    default_name: str
    key: str  # what the record key holds
    value: type[BaseModel]
    partitions: int = 4
    description: str = ""


TOPICS: tuple[TopicDef, ...] = (
    TopicDef("sms_inbound", "voc.sms.inbound", "sender or message id", InboundSMS,
             description="SMS replies as the gateway posts them"),
    TopicDef("survey_replies", "voc.survey.replies", "response id", SurveyReply,
             description="survey answers (NPS/CSAT/CES) with optional comment"),
    TopicDef("enriched", "voc.feedback.enriched", "customer id (falls back to feedback id)",
             EnrichedFeedback, description="one per valid inbound message"),
    TopicDef("followups", "voc.followups", "customer id", FollowUp,
             description="rants only: priority, due_by, suggested reply"),
    TopicDef("followup_outcomes", "voc.followups.outcomes", "follow-up id", FollowUpOutcome,
             description="what the case tool did about a follow-up"),
    TopicDef("deadletter", "voc.deadletter", "source topic", DeadLetter,
             description="bad input with reason and original bytes"),
    TopicDef("audit", "voc.audit", "target (follow-up id, dead letter id or alert name)",
             AuditEvent, description="operator actions and received alerts, from the console"),
)

BY_LOGICAL: dict[str, TopicDef] = {t.logical: t for t in TOPICS}
