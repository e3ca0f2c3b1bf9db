"""The contract's Kafka topics: what each one is keyed by and what its values are.

This table is the one list of topics: ``streams.settings.TopicNames`` (the configurable
names), ``streams.topics`` (creation and configs) and the worker's agents all derive from
it. Names here are the defaults (before the optional prefix). Downstream teams read this
table (and the JSON Schemas in ``schemas/jsonschema/``) to know what to expect on each topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, RootModel

from schemas.records import (
    AuditEvent,
    DeadLetter,
    EnrichedFeedback,
    FollowUp,
    FollowUpOutcome,
    InboundSMS,
    SurveyReply,
)


class InboundRecord(RootModel[InboundSMS | SurveyReply]):
    """An SMS or a survey reply as received (the value of the worker's ``contacts`` topic)."""


@dataclass(frozen=True)
class TopicDef:
    """One topic of the contract."""

    logical: str  # field name in streams.settings.TopicNames
    default_name: str
    key: str  # what the record key holds
    value: type[BaseModel]
    partitions: int = 4
    description: str = ""
    retention_days: int = 30
    max_message_mib: int = 2  # an inbound record may carry a 1 MB body (broker default 1 MiB)
    # the broker stamps each record when it appends it (message.timestamp.type=LogAppendTime):
    # the reference a message's own claimed time is checked against (processors.eventtime)
    broker_time: bool = False


TOPICS: tuple[TopicDef, ...] = (
    TopicDef("sms_inbound", "voc.sms.inbound", "sender or message id", InboundSMS,
             description="SMS replies as the gateway posts them", retention_days=7,
             broker_time=True),
    TopicDef("survey_replies", "voc.survey.replies", "response id", SurveyReply,
             description="survey answers (NPS/CSAT/CES) with optional comment",
             retention_days=7, broker_time=True),
    # the worker's own re-key hop (streams/handlers/contacts.py): inbound records keyed by
    # customer, so the repeat-contact table's partition of a customer sees all of its
    # messages. Created here (not by Faust) so it gets the same partition count as the
    # inbound topics and the contacts table, and the inbound topics' retention and size.
    # No broker time: each record carries its inbound record's timestamp in a header.
    TopicDef("contacts", "voc.contacts.by-customer",
             "customer pseudonym (an SMS without a customer id: its sender's)", InboundRecord,
             # an inbound record as large as its own topic allows, plus the origin headers
             retention_days=7, max_message_mib=3,
             description="inbound records re-keyed by customer (worker-internal; the original "
                         "topic, partition, offset and timestamp ride in the voc-origin "
                         "header)"),
    TopicDef("enriched", "voc.feedback.enriched", "customer id (falls back to feedback id)",
             EnrichedFeedback, description="one per valid inbound message"),
    TopicDef("followups", "voc.followups", "customer id", FollowUp,
             description="rants only: priority, due_by, suggested reply"),
    TopicDef("followup_outcomes", "voc.followups.outcomes", "follow-up id", FollowUpOutcome,
             description="what the case tool did about a follow-up"),
    # retention: VOC_TOPICS__DEADLETTER_RETENTION_DAYS (this is its default). By default a
    # dead letter holds a redacted preview and a keyed hash; with originals kept
    # (VOC_DEADLETTER_KEEP_ORIGINAL) they travel base64-encoded: the worker's producer
    # sends requests of up to 5 MB
    TopicDef("deadletter", "voc.deadletter", "source topic", DeadLetter,
             description="bad input with reason, redacted preview and keyed hash (original "
             "bytes only when kept)", retention_days=30, max_message_mib=6),
    # operator actions and alert history: the audit trail is kept for a year
    TopicDef("audit", "voc.audit", "target (follow-up id, dead letter id or alert name)",
             AuditEvent, description="operator actions and received alerts, from the console",
             retention_days=365),
)

BY_LOGICAL: dict[str, TopicDef] = {t.logical: t for t in TOPICS}


@dataclass(frozen=True)
class InternalTopicDef:
    """A topic only the worker reads and writes (Faust creates it, not ``voc topics create``).

    Its full name carries the consumer group: ``<prefix><consumer group>-<name>``.
    """

    logical: str  # field name in streams.settings.TopicNames, and the handlers' OutRecord.topic
    default_name: str
    key: str
    description: str = ""


INTERNAL_TOPICS: tuple[InternalTopicDef, ...] = (
    InternalTopicDef("state", "followup-state", "follow-up id",
                     description="follow-ups and outcomes re-keyed as open/outcome/breach ops"),
)
