"""OpenSearch 2/3 adapter on ``opensearch-py``'s async client (the local stack and CI)."""

from __future__ import annotations

import contextlib
from typing import Any

from opensearchpy import AsyncOpenSearch, NotFoundError, SerializationError, TransportError
from opensearchpy import ConnectionError as OSConnectionError
from opensearchpy.helpers import async_streaming_bulk

from streams.failures import RETRIABLE_STATUS
from streams.search.base import SearchBackend


class OpenSearchBackend(SearchBackend):
    """SearchBackend over ``opensearchpy.AsyncOpenSearch``."""

    name = "opensearch"
    client: AsyncOpenSearch

    def is_retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, OSConnectionError):
            return True
        if isinstance(exc, SerializationError):
            return False
        if isinstance(exc, TransportError):
            return exc.status_code in RETRIABLE_STATUS
        return isinstance(exc, TimeoutError | OSError)

    async def _put_template(self, name: str, body: dict[str, Any]) -> None:
        await self.client.indices.put_index_template(name=name, body=body)

    async def _index_exists(self, index: str) -> bool:
        return bool(await self.client.indices.exists(index=index))

    async def _create_index(self, index: str) -> None:
        await self.client.indices.create(index=index)

    async def _bulk(self, actions: list[dict[str, Any]]) -> list[tuple[bool, dict[str, Any]]]:
        return [(ok, item) async for ok, item in async_streaming_bulk(
            self.client, actions, chunk_size=max(1, len(actions)), raise_on_error=False,
            raise_on_exception=True, max_retries=0)]

    async def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.client.search(index=self.alias, body=body))

    async def _count(self) -> int:
        return int((await self.client.count(index=self.alias))["count"])

    async def _info(self) -> dict[str, Any]:
        return dict(await self.client.info())

    async def _cluster_health(self) -> dict[str, Any]:
        return dict(await self.client.cluster.health())

    async def _refresh(self) -> None:
        await self.client.indices.refresh(index=self.alias)

    async def _drop(self) -> None:
        try:
            # only indices behind this alias (a shorter alias's wildcard would reach others)
            found = await self.client.indices.get_alias(name=self.alias)
            for name in found:
                await self.client.indices.delete(index=name)
        except NotFoundError:
            pass
        with contextlib.suppress(NotFoundError):
            await self.client.indices.delete_index_template(name=self.template_name)

    async def close(self) -> None:
        await self.client.close()
