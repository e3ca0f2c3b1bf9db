"""The failure classes: which errors are worth retrying, and which never will be.

Why one module: the producer and the search sink both used to treat every failure alike,
so one record the broker can never accept (too large for the topic) was retried forever
and blocked its partition. Here each failure gets one of three classes, in one place:

* ``RETRIABLE`` - the server or the network will get better on its own (timeouts, no
  leader, connection refused, 429, 5xx): the one retry policy (``streams.retry``) applies,
  for as long as it lasts; Kafka keeps the backlog.
* ``BLOCKED`` - the server refuses everything until an operator acts (a read-only index,
  a missing ACL): retried like ``RETRIABLE`` (nothing is dropped while the operator fixes
  it), but counted apart so the alert says what to fix.
* ``PERMANENT`` - this one record can never succeed (too large, invalid topic, a mapping
  error, a value the serializer cannot write): it goes to the dead-letter topic with a
  reason and is counted, and the partition moves on.

An error this module does not know is retriable: retrying an unknown error wastes time,
dead-lettering it could lose a record to a passing fault.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiokafka import errors as kafka_errors


class FailureClass(StrEnum):
    RETRIABLE = "retriable"
    BLOCKED = "blocked"
    PERMANENT = "permanent"


#: Produce errors that one record will always get again: the broker or the client refuses
#: that record itself, whatever the cluster's state.
PERMANENT_PRODUCE_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,  # over max.message.bytes / max_request_size
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidTopicError,
    kafka_errors.CorruptRecordException,
    kafka_errors.InvalidTimestampError,  # outside the topic's message.timestamp window
    kafka_errors.UnsupportedForMessageFormatError,
    TypeError,  # a key or value the serializer cannot write
    ValueError,
    UnicodeError,
)

#: Produce errors an operator must fix (ACLs): wait for them, never drop.
BLOCKED_PRODUCE_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
)


def produce_failure(exc: BaseException) -> FailureClass:
    """The class of one failed produce (the ``send`` call or its delivery future)."""
    if isinstance(exc, PERMANENT_PRODUCE_ERRORS):
        return FailureClass.PERMANENT
    if isinstance(exc, BLOCKED_PRODUCE_ERRORS):
        return FailureClass.BLOCKED
    return FailureClass.RETRIABLE


#: Per-document search statuses worth another try: the cluster is busy or failing.
RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})

#: Error types of a per-document answer that mean "the index refuses all writes until an
#: operator lifts a block" (``index.blocks.write``, ``read_only_allow_delete`` after the
#: flood-stage disk watermark): 403 ``cluster_block_exception`` on both engines.
BLOCKED_ERROR_TYPES = frozenset({"cluster_block_exception"})


def index_failure(status: int, error: Any) -> FailureClass:
    """The class of one document the search engine did not accept (status + its error
    body): 429/5xx retriable, a write block blocked, every other 4xx (400 mapper_parsing,
    illegal_argument, 413) permanent for that document."""
    err_type = error.get("type") if isinstance(error, dict) else None
    if err_type in BLOCKED_ERROR_TYPES or "cluster_block_exception" in str(error):
        return FailureClass.BLOCKED
    if status in RETRIABLE_STATUS or status == 0 or status >= 500:
        return FailureClass.RETRIABLE
    return FailureClass.PERMANENT


def is_version_conflict(status: int, error: Any) -> bool:
    """409 on a versioned write: the index holds this version or a newer one already, so
    this write is stale and has nothing to do (success, no-op)."""
    return status == 409 and "version_conflict" in str(error)
