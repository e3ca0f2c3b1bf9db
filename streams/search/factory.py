"""Pick and build the search backend from settings (or from what the server says it is)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

import httpx

from schemas.indices import FEEDBACK, IndexDef
from streams.retry import RetryPolicy, retry
from streams.search.base import SearchBackend, SearchUnavailable
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.metrics import Metrics

Kind = Literal["elasticsearch", "opensearch"]


def _auth_headers(settings: Settings) -> tuple[dict[str, str], tuple[str, str] | None]:
    headers: dict[str, str] = {}
    basic: tuple[str, str] | None = None
    if settings.search_api_key is not None:
        headers["Authorization"] = f"ApiKey {settings.search_api_key.get_secret_value()}"
    elif settings.search_username:
        pw = settings.search_password.get_secret_value() if settings.search_password else ""
        basic = (settings.search_username, pw)
    return headers, basic


def detect_server(settings: Settings, timeout_s: float = 5.0) -> tuple[Kind, int | None]:
    """Ask ``GET /``: (engine, major version). OpenSearch reports
    ``version.distribution == "opensearch"``; Elasticsearch has no distribution field.

    Raises SearchUnavailable when the server does not answer, so callers can retry.
    """
    headers, basic = _auth_headers(settings)
    verify: Any = settings.search_verify_certs
    if verify and settings.search_ca_certs:
        verify = str(settings.search_ca_certs)
    try:
        resp = httpx.get(settings.search_url.rstrip("/") + "/", headers=headers, auth=basic,
                         verify=verify, timeout=timeout_s)
        resp.raise_for_status()
        info = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SearchUnavailable(f"cannot detect search backend at {settings.search_url}: {exc}") \
            from exc
    version = info.get("version", {}) if isinstance(info, dict) else {}
    distribution = str(version.get("distribution", "")).lower()
    try:
        major: int | None = int(str(version.get("number", "")).split(".")[0])
    except ValueError:
        major = None
    return ("opensearch" if distribution == "opensearch" else "elasticsearch"), major


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
    ca = str(settings.search_ca_certs) if settings.search_ca_certs else None
    key = settings.search_api_key.get_secret_value() if settings.search_api_key else None
    pw = settings.search_password.get_secret_value() if settings.search_password else ""
    basic = (settings.search_username, pw) if settings.search_username else None
    if kind == "opensearch":
        from opensearchpy import AsyncOpenSearch

        from streams.search.opensearch import OpenSearchBackend

        os_kwargs: dict[str, Any] = {"verify_certs": settings.search_verify_certs,
                                     "timeout": settings.search_timeout_s}
        if ca:
            os_kwargs["ca_certs"] = ca
        if key:
            os_kwargs["headers"] = {"Authorization": f"ApiKey {key}"}
        elif basic:
            os_kwargs["http_auth"] = basic
        if url.startswith("https") and not settings.search_verify_certs:
            os_kwargs["ssl_show_warn"] = False
        return OpenSearchBackend(AsyncOpenSearch(hosts=[url], **os_kwargs), **common)

    from elasticsearch import AsyncElasticsearch

    from streams.search.elastic import ElasticBackend, pin_compat

    es_kwargs: dict[str, Any] = {"request_timeout": settings.search_timeout_s, "max_retries": 0}
    if url.startswith("https"):
        es_kwargs["verify_certs"] = settings.search_verify_certs
        if ca:
            es_kwargs["ca_certs"] = ca
    if key:
        es_kwargs["api_key"] = key
    elif basic:
        es_kwargs["basic_auth"] = basic
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

    backend = await retry(attempt, policy=pol,
                          is_retryable=lambda e: isinstance(e, SearchUnavailable))
    await backend.ensure_index()
    return backend
