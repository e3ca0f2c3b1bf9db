"""The worker's seams, as Protocols: what the handlers need from the enricher and the sink.

Why Protocols and not the concrete classes: the handlers are tested with small fakes, and
the worker swaps the real search backend for ``LazyBackend``; a Protocol lets a reader (and
a type checker) follow a message from the consumer to the index without pinning either.
Metrics need none: ``streams.metrics.Metrics`` is the one implementation, tests included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from schemas.records import EnrichedFeedback, FollowUp, InboundSMS, SurveyReply

if TYPE_CHECKING:
    from streams.search.base import IndexResult

Inbound = InboundSMS | SurveyReply
Source = Literal["sms", "survey"]

ParseInbound = Callable[[bytes, Source], Inbound]
"""Raw bytes to a record, or an error with a ``reason`` (``processors.pipeline.parse_inbound``)."""


class EnrichOutcome(Protocol):
    """One enriched message and, for a rant, its follow-up."""

    @property
    def feedback(self) -> EnrichedFeedback: ...

    @property
    def followup(self) -> FollowUp | None: ...


class BatchEnricher(Protocol):
    """Enriches a batch in input order (``processors.pipeline.Enricher``)."""

    def enrich_batch(
        self,
        items: Sequence[Inbound],
        recent_contacts: Sequence[int] | None = None,
        now: datetime | None = None,
    ) -> Sequence[EnrichOutcome]: ...


class SearchSink(Protocol):
    """Where enriched documents go (``SearchBackend``, or ``LazyBackend`` in the worker)."""

    async def ensure_index(self) -> None:
        """Install the template and alias; idempotent."""
        ...

    async def bulk_index(self, docs: Sequence[dict[str, Any]]) -> Sequence[IndexResult]:
        """One result per document, in input order."""
        ...

    async def ping(self) -> bool:
        """True when the cluster answers; never raises."""
        ...

    async def close(self) -> None: ...
