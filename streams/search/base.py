"""The search sink's one small interface, shared by the Elasticsearch and OpenSearch adapters.

Why a base class and not two independent clients: the index layout (template, alias over
monthly indices, ``_id`` = feedback id) and the retries must be identical on both engines,
so they live here; an adapter only says how its client spells a call and which of its
exceptions are worth retrying. The safe query bodies are built in ``streams.search.query``.

Layout: documents go to ``<alias>-YYYY.MM`` chosen from the document's own ``received_at``,
so a replayed message always lands in the same index under the same ``_id`` (idempotent).
The index template (``schemas/index_template.json``) matches ``<alias>-*`` and attaches the
alias to every new index, so readers only ever use the alias.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import schemas
from schemas.indices import FEEDBACK, IndexDef
from streams.failures import FailureClass, index_failure, is_version_conflict
from streams.retry import RetryPolicy, retry, short_error
from streams.search.query import (
    DEFAULT_FACETS,
    Filters,
    SearchHit,
    build_query,
    facets_from,
    facets_query,
    hits_from,
    most_urgent_query,
)

if TYPE_CHECKING:
    from streams.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

TEMPLATE_PATH = Path(schemas.__file__).parent / "index_template.json"


class SearchUnavailable(Exception):
    """The cluster could not be reached (or kept failing) within the retry budget."""


@dataclass(frozen=True)
class IndexResult:
    """Outcome of one document in a bulk request (mapping errors come back here, not raised).

    ``retryable`` is true for both retriable and blocked failures (``streams.failures``):
    either way the document is sent again, never dropped. ``stale`` marks a versioned write
    the index already holds at this version or newer (409): ``ok``, nothing written.
    """

    id: str
    ok: bool
    status: int
    error: str | None = None
    retryable: bool = False
    index: str | None = None
    failure: FailureClass | None = None
    stale: bool = False

    @property
    def outcome(self) -> str:
        """The ``result`` label of ``voc_index_docs_total``: ok, stale, blocked, retryable
        or error (permanent)."""
        if self.ok:
            return "stale" if self.stale else "ok"
        if self.failure is FailureClass.BLOCKED:
            return "blocked"
        return "retryable" if self.retryable else "error"


#: Interactive calls (search, counts, refresh, drop): a few quick tries, then the error.
READ_RETRY = RetryPolicy(3, 0.2, 2.0)


def load_template(
    alias: str, replicas: int | None = None, index: IndexDef = FEEDBACK
) -> dict[str, Any]:
    """The index template body for ``alias``: patterns ``<alias>-*`` and the alias attached."""
    raw = json.loads(index.template_path.read_text(encoding="utf-8"))
    body = {k: copy.deepcopy(v) for k, v in raw.items() if not k.startswith("_")}
    body["index_patterns"] = [f"{alias}-*"]
    # Aliases can nest by name (voc-feedback, voc-feedback-staging): their patterns overlap,
    # which engines refuse at equal priority. A longer alias gets a higher priority, so the
    # most specific template wins for its own indices and both can live in one cluster.
    body["priority"] = int(body.get("priority", 200)) + len(alias)
    tmpl = body.setdefault("template", {})
    tmpl["aliases"] = {alias: {}}
    if replicas is not None:
        tmpl.setdefault("settings", {})["number_of_replicas"] = replicas
    return body


_MONTH = re.compile(r"^(\d{4})-(\d{2})")


def index_for(alias: str, doc: dict[str, Any], time_field: str = "received_at") -> str:
    """The monthly index a document belongs to, from its own time field (stable on replay)."""
    received = doc.get(time_field)
    m = _MONTH.match(received) if isinstance(received, str) else None
    if m is None and isinstance(received, datetime):
        return f"{alias}-{received:%Y.%m}"
    return f"{alias}-{m.group(1)}.{m.group(2)}" if m else f"{alias}-undated"


def external_version(value: Any) -> int:
    """A document's external version from its version field: an integer as it is, a
    date-time as epoch milliseconds. Never negative (engines refuse that for the whole
    bulk request): an unreadable or pre-1970 value is 0, which any later write replaces."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    when = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int(when.timestamp() * 1000))


class SearchBackend(ABC):
    """Index and query enriched feedback on one engine; shared behaviour lives here."""

    name: str = "search"

    def __init__(
        self,
        client: Any,
        *,
        alias: str = "voc-feedback",
        replicas: int | None = None,
        policy: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        index: IndexDef = FEEDBACK,
    ) -> None:
        self.client = client
        self.index = index
        self.alias = alias
        self.replicas = replicas
        self.policy = policy or RetryPolicy()
        self.metrics = metrics

    # --- what an adapter provides -------------------------------------------------------

    @abstractmethod
    def is_retryable(self, exc: BaseException) -> bool:
        """Connection errors, timeouts, 429 and 5xx: worth another try."""

    @abstractmethod
    async def _put_template(self, name: str, body: dict[str, Any]) -> None: ...

    @abstractmethod
    async def _index_exists(self, index: str) -> bool: ...

    @abstractmethod
    async def _create_index(self, index: str) -> None: ...

    @abstractmethod
    async def _bulk(self, actions: list[dict[str, Any]]) -> list[tuple[bool, dict[str, Any]]]:
        """One bulk round through the client's ``async_streaming_bulk`` (raise_on_error=False)."""

    @abstractmethod
    async def _search(self, body: dict[str, Any]) -> dict[str, Any]: ...

    @abstractmethod
    async def _count(self) -> int: ...

    @abstractmethod
    async def _info(self) -> dict[str, Any]: ...

    @abstractmethod
    async def _cluster_health(self) -> dict[str, Any]: ...

    @abstractmethod
    async def _refresh(self) -> None: ...

    @abstractmethod
    async def _drop(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    # --- shared behaviour ------------------------------------------------------------------

    @property
    def template_name(self) -> str:
        return self.alias

    def _mark_up(self, up: bool) -> None:
        """The one writer of ``voc_search_up``: 1 after a call succeeds, 0 while calls fail."""
        if self.metrics is not None:
            self.metrics.search_up.set(1 if up else 0)

    def _on_failure(self, exc: BaseException) -> None:
        if self.is_retryable(exc):  # a non-retryable answer (4xx) still means "it answered"
            self._mark_up(False)

    def _on_retry(self, attempt: int, exc: BaseException) -> None:
        if self.metrics is not None:
            self.metrics.index_retries.inc()

    async def _call(self, fn: Callable[[], Awaitable[T]], policy: RetryPolicy | None = None) -> T:
        try:
            result = await retry(fn, policy=policy or self.policy, is_retryable=self.is_retryable,
                                 on_retry=self._on_retry, on_failure=self._on_failure)
        except Exception as exc:
            if self.is_retryable(exc):
                raise SearchUnavailable(short_error(exc)) from exc
            raise
        self._mark_up(True)
        return result

    async def ensure_index(self) -> None:
        """Install the template (idempotent) and make sure the alias exists right away.

        The current month's index is created so searches and counts work before the first
        document arrives; later months are created by the engine on first write and join
        the alias through the template.
        """
        body = load_template(self.alias, self.replicas, self.index)
        await self._call(lambda: self._put_template(self.template_name, body))
        current = f"{self.alias}-{datetime.now(UTC):%Y.%m}"
        if not await self._call(lambda: self._index_exists(current)):
            try:
                await self._call(lambda: self._create_index(current))
            except Exception as exc:  # created concurrently by another worker: fine
                if "resource_already_exists" not in str(exc):
                    raise

    async def bulk_index(
        self, docs: Sequence[dict[str, Any]], *, policy: RetryPolicy | None = None
    ) -> list[IndexResult]:
        """Index ``docs`` with ``_id = doc["id"]``; one IndexResult per doc, in input order.

        Per-document failures that are worth retrying (429, 5xx) are re-sent with backoff;
        whole-request failures (cluster down) are retried too. Permanent per-document errors
        (mapping, bad value) come back as ``ok=False, retryable=False`` for the caller to
        dead-letter. With the default policy (attempts=0) this blocks until the cluster is
        back instead of dropping; with a finite policy, leftovers come back ``retryable=True``.
        """
        policy = policy or self.policy
        results: dict[int, IndexResult] = {}
        pending = list(range(len(docs)))
        attempt = 0
        while pending:
            attempt += 1
            actions = [self._index_action(docs[i]) for i in pending]
            outcomes = await self._call(functools.partial(self._bulk, actions), policy)
            still: list[int] = []
            for i, (ok, item) in zip(pending, outcomes, strict=True):
                res = _result(str(docs[i]["id"]), ok, item)
                results[i] = res
                if res.retryable:
                    still.append(i)
            pending = still
            if pending:
                self._count_blocked(results[i] for i in pending)
                if policy.gives_up_after(attempt):
                    break
                if self.metrics is not None:  # the cluster answered: search_up stays 1
                    self.metrics.index_retries.inc()
                log.warning("%d documents rejected with a retryable status (attempt %d)",
                            len(pending), attempt)
                await asyncio.sleep(policy.delay(attempt))
        if self.metrics is not None:
            for r in results.values():
                result = r.outcome
                if result == "blocked":  # counted per refused send, above
                    continue
                if self.index is FEEDBACK:  # voc_index_docs_total counts feedback only
                    self.metrics.index_docs.labels(result=result).inc()
                else:
                    self.metrics.operator_docs.labels(index=self.index.logical,
                                                      result=result).inc()
        return [results[i] for i in range(len(docs))]

    def _count_blocked(self, results: Iterable[IndexResult]) -> None:
        """Each send a write block refused, as it happens: a blocked bulk call does not
        return until the block is lifted, and the alert must fire while it lasts."""
        if self.metrics is None:
            return
        for r in results:
            if r.failure is FailureClass.BLOCKED:
                if self.index is FEEDBACK:
                    self.metrics.index_docs.labels(result="blocked").inc()
                else:
                    self.metrics.operator_docs.labels(index=self.index.logical,
                                                      result="blocked").inc()

    def _index_action(self, doc: dict[str, Any]) -> dict[str, Any]:
        """One bulk ``index`` action; versioned indices carry the document's own version, so
        a replayed older state can never overwrite a newer one (the engine answers 409)."""
        action: dict[str, Any] = {
            "_op_type": "index", "_index": index_for(self.alias, doc, self.index.time_field),
            "_id": str(doc["id"]), "_source": doc}
        if self.index.version_field:
            action["version"] = external_version(doc.get(self.index.version_field))
            action["version_type"] = self.index.version_type
        return action

    async def _read(self, body: dict[str, Any]) -> dict[str, Any]:
        """One search request, retried briefly (reads are interactive: fail fast)."""
        return await self._call(lambda: self._search(body), READ_RETRY)

    async def search(self, query: str, **filters: Unpack[Filters]) -> list[SearchHit]:
        """Matching feedback, best first, with highlighted fragments (user input is data)."""
        return hits_from(await self._read(build_query(query, **filters)))

    async def facets(
        self, fields: Sequence[str] = DEFAULT_FACETS, query: str = "", **filters: Unpack[Filters]
    ) -> dict[str, Any]:
        """Counts per value of keyword ``fields`` over the matching feedback (same safe query
        and filters as ``search``): ``{"total": n, "rants": n, field: [(value, count), ...]}``."""
        return facets_from(await self._read(facets_query(fields, query, **filters)), fields)

    async def most_urgent(self, size: int = 5) -> list[SearchHit]:
        """The rants with the highest urgency score, newest first among equals."""
        return hits_from(await self._read(most_urgent_query(size)))

    async def count(self) -> int:
        """Documents behind the alias."""
        return await self._call(self._count, READ_RETRY)

    async def refresh(self) -> None:
        """Make recent writes searchable now (tests, demo); production uses refresh_interval."""
        await self._call(self._refresh, READ_RETRY)

    async def ping(self) -> bool:
        """True when the cluster answers; never raises."""
        try:
            await self._info()
            return True
        except Exception:
            return False

    async def health(self) -> dict[str, Any]:
        """Reachability summary for ``/health``: never raises."""
        out: dict[str, Any] = {"backend": self.name, "alias": self.alias, "up": False}
        try:
            info = await self._info()
            ver = info.get("version", {})
            out["version"] = ver.get("number")
            out["distribution"] = ver.get("distribution", "elasticsearch")
            out["cluster_status"] = (await self._cluster_health()).get("status")
            out["up"] = out["cluster_status"] in ("green", "yellow")
        except Exception as exc:
            out["error"] = short_error(exc)
        self._mark_up(out["up"])
        return out

    async def drop(self) -> None:
        """Delete this alias's indices and template (tests and demo resets only)."""
        await self._call(self._drop, READ_RETRY)

    async def __aenter__(self) -> SearchBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _result(doc_id: str, ok: bool, item: dict[str, Any]) -> IndexResult:
    """Turn one bulk response item (``{"index": {...}}``) into an IndexResult."""
    body: dict[str, Any] = next(iter(item.values()), {}) if item else {}
    status = int(body.get("status", 200 if ok else 0))
    err = body.get("error") or body.get("exception") or "unknown error"
    if not ok and is_version_conflict(status, err):
        # an external version at or above this one is stored: this write is stale
        return IndexResult(id=doc_id, ok=True, status=status, index=body.get("_index"),
                           stale=True)
    if ok:
        return IndexResult(id=doc_id, ok=True, status=status, index=body.get("_index"))
    if isinstance(err, dict):
        reason = err.get("reason") or ""
        caused = (err.get("caused_by") or {}).get("reason")
        err_text = f"{err.get('type', 'error')}: {reason}" + (f" ({caused})" if caused else "")
    else:
        err_text = str(err)
    failure = index_failure(status, err)
    return IndexResult(id=doc_id, ok=False, status=status, error=err_text[:1000],
                       retryable=failure is not FailureClass.PERMANENT, index=body.get("_index"),
                       failure=failure)
