"""Elasticsearch 8/9 adapter (the production default), on the official async client.

The client refuses servers that do not say they are Elasticsearch; CI exercises this adapter
against OpenSearch through a header-translating test proxy (see docs/local-stack.md).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import elastic_transport
from elasticsearch import ApiError, AsyncElasticsearch, NotFoundError
from elasticsearch.helpers import async_streaming_bulk

from streams.failures import RETRIABLE_STATUS
from streams.search.base import SearchBackend

_COMPAT = re.compile(r"compatible-with=\d+")


def pin_compat(client: AsyncElasticsearch, major: int) -> None:
    """Send ``compatible-with=<major>`` on every request of ``client``.

    Why: the 9.x client always asks for ``compatible-with=9``, which Elasticsearch 8 servers
    reject ("Invalid media-type value"); pinning 8 lets one installed client serve both
    (the request/response bodies we use are the same in 8 and 9).
    """
    transport = client.transport
    original = transport.perform_request
    value = f"compatible-with={int(major)}"

    async def perform_request(method: str, target: str, *args: Any, headers: Any = None,
                              **kwargs: Any) -> Any:
        if headers and hasattr(headers, "copy"):
            headers = headers.copy()
            for name in ("accept", "content-type"):
                if name in headers:
                    headers[name] = _COMPAT.sub(value, headers[name])
        return await original(method, target, *args, headers=headers, **kwargs)

    transport.perform_request = perform_request  # type: ignore[method-assign]


class ElasticBackend(SearchBackend):
    """SearchBackend over ``elasticsearch.AsyncElasticsearch``."""

    name = "elasticsearch"
    client: AsyncElasticsearch

    def is_retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, ApiError):
            return exc.meta.status in RETRIABLE_STATUS
        if isinstance(exc, elastic_transport.SerializationError):
            return False
        return isinstance(exc, elastic_transport.TransportError | TimeoutError | OSError)

    async def _put_template(self, name: str, body: dict[str, Any]) -> None:
        await self.client.indices.put_index_template(
            name=name, index_patterns=body["index_patterns"], template=body["template"],
            priority=body.get("priority"))

    async def _index_exists(self, index: str) -> bool:
        return bool(await self.client.indices.exists(index=index))

    async def _create_index(self, index: str) -> None:
        await self.client.indices.create(index=index)

    async def _bulk(self, actions: list[dict[str, Any]]) -> list[tuple[bool, dict[str, Any]]]:
        return [(ok, item) async for ok, item in async_streaming_bulk(
            self.client, actions, chunk_size=max(1, len(actions)), raise_on_error=False,
            raise_on_exception=True, max_retries=0)]

    async def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.client.search(index=self.alias, **body)
        return dict(resp.body)

    async def _count(self) -> int:
        resp = await self.client.count(index=self.alias)
        return int(resp["count"])

    async def _info(self) -> dict[str, Any]:
        return dict((await self.client.info()).body)

    async def _cluster_health(self) -> dict[str, Any]:
        return dict((await self.client.cluster.health()).body)

    async def _refresh(self) -> None:
        await self.client.indices.refresh(index=self.alias)

    async def _drop(self) -> None:
        try:
            # only indices behind this alias (a shorter alias's wildcard would reach others)
            found = await self.client.indices.get_alias(name=self.alias)
            for name in found.body:
                await self.client.indices.delete(index=name)
        except NotFoundError:
            pass
        with contextlib.suppress(NotFoundError):
            await self.client.indices.delete_index_template(name=self.template_name)

    async def close(self) -> None:
        await self.client.close()
