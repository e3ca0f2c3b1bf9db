"""Pick and build the search backend from settings (or from what the server says it is)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

import httpx

from schemas.indices import FEEDBACK, IndexDef
from streams.retry import RetryPolicy, retry
from streams.search.base import SearchBackend, SearchUnavailable
from streams.security import search_access
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.metrics import Metrics

Kind = Literal["elasticsearch", "opensearch"]
log = logging.getLogger(__name__)


def detect_server(settings: Settings, timeout_s: float = 5.0) -> tuple[Kind, int | None]:
    """Ask ``GET /``: (engine, major version). OpenSearch reports
    ``version.distribution == "opensearch"``; Elasticsearch has no distribution field.

    Raises SearchUnavailable when the server does not answer, so callers can retry.
    """
    access = search_access(settings)
    try:
        resp = httpx.get(access.url.rstrip("/") + "/", headers=access.headers, auth=access.basic,
                         verify=access.httpx_verify, timeout=timeout_s)
        resp.raise_for_status()
        info = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        reason = _refusal(exc)
        if reason is not None:
            raise EngineRefused(f"cannot use the search engine at {access.url}: {reason} "
                                f"[{type(exc).__name__}: {exc}]", reason) from exc
        raise SearchUnavailable(
            f"cannot detect search backend at {access.url}: {type(exc).__name__}: {exc}") \
            from exc
    version = info.get("version", {}) if isinstance(info, dict) else {}
    distribution = str(version.get("distribution", "")).lower()
    try:
        major: int | None = int(str(version.get("number", "")).split(".")[0])
    except ValueError:
        major = None
    return ("opensearch" if distribution == "opensearch" else "elasticsearch"), major


class EngineRefused(SearchUnavailable):
    """The engine answered but refused us (credentials, or a certificate we do not trust).

    ``reason`` is short and names the setting to fix: the worker logs it on every retry
    (the log scrubber hides longer free text, which could be customer data).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _refusal(exc: Exception) -> str | None:
    """The short reason for the common auth/TLS failures (httpx's own text is long)."""
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (401, 403):
        return (f"HTTP {exc.response.status_code}: the engine refused our credentials "
                "(VOC_SEARCH_API_KEY or _USERNAME/_PASSWORD)")
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "TLS certificate not trusted: set VOC_SEARCH_CA_CERTS to the engine's CA"
    return None


def detect_backend(settings: Settings, timeout_s: float = 5.0) -> Kind:
    """Which engine answers at ``settings.search_url`` (see ``detect_server``)."""
    return detect_server(settings, timeout_s)[0]


def _policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.search_retry_attempts,
                       base_s=settings.search_retry_base_s, max_s=settings.search_retry_max_s)


def make_backend(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    kind: Kind | None = None,
    url: str | None = None,
    alias: str | None = None,
    index: IndexDef = FEEDBACK,
) -> SearchBackend:
    """Build the configured backend for one logical index (``schemas.indices``; feedback by
    default); ``kind``/``url``/``alias`` override settings, for tests.

    With ``search_backend=auto`` this makes one blocking ``GET /`` to detect the engine.
    """
    url = url or settings.search_url
    kind = kind or (settings.search_backend if settings.search_backend != "auto" else None)
    compat = settings.search_es_compat
    if kind is None:
        kind, major = detect_server(settings.model_copy(update={"search_url": url}))
        if kind == "elasticsearch" and compat is None and major is not None:
            compat = major
    common: dict[str, Any] = {
        "alias": alias or settings.alias(index.logical),
        "index": index,
        "replicas": settings.search_replicas,
        "policy": RetryPolicy.from_settings(settings),
        "metrics": metrics,
    }
    access = search_access(settings, url)
    url = access.url
    if kind == "opensearch":
        from opensearchpy import AsyncOpenSearch

        from streams.search.opensearch import OpenSearchBackend

        os_kwargs: dict[str, Any] = {"verify_certs": access.verify,
                                     "timeout": settings.search_timeout_s}
        if access.ca_certs:
            os_kwargs["ca_certs"] = access.ca_certs
        if access.api_key:
            os_kwargs["headers"] = access.headers
        elif access.basic:
            os_kwargs["http_auth"] = access.basic
        if url.startswith("https") and not access.verify:
            os_kwargs["ssl_show_warn"] = False
        return OpenSearchBackend(AsyncOpenSearch(hosts=[url], **os_kwargs), **common)

    from elasticsearch import AsyncElasticsearch

    from streams.search.elastic import ElasticBackend, pin_compat

    es_kwargs: dict[str, Any] = {"request_timeout": settings.search_timeout_s, "max_retries": 0}
    if url.startswith("https"):
        es_kwargs["verify_certs"] = access.verify
        if access.ca_certs:
            es_kwargs["ca_certs"] = access.ca_certs
    if access.api_key:
        es_kwargs["api_key"] = access.api_key
    elif access.basic:
        es_kwargs["basic_auth"] = access.basic
    client = AsyncElasticsearch(hosts=[url], **es_kwargs)
    if compat is not None and compat != _es_client_major():
        pin_compat(client, compat)
    return ElasticBackend(client, **common)


def _es_client_major() -> int:
    from importlib.metadata import version

    return int(version("elasticsearch").split(".")[0])


async def connect_backend(
    settings: Settings, *, metrics: Metrics | None = None, policy: RetryPolicy | None = None,
    index: IndexDef = FEEDBACK,
) -> SearchBackend:
    """Build the backend, waiting (backoff + jitter) until the engine can be detected.

    For the worker: with auto-detection and the cluster down at start, it waits instead of
    crashing, then installs the template and alias.
    """
    pol = policy or RetryPolicy.from_settings(settings)

    async def attempt() -> SearchBackend:
        return await asyncio.to_thread(make_backend, settings, metrics=metrics, index=index)

    def refused(n: int, exc: BaseException) -> None:
        if isinstance(exc, EngineRefused):
            log.warning("search engine refuses us (attempt %d): %s", n, exc.reason)

    backend = await retry(attempt, policy=pol, on_retry=refused,
                          is_retryable=lambda e: isinstance(e, SearchUnavailable))
    await backend.ensure_index()
    return backend
