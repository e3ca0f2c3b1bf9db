"""The worker's search sink: the real backend, connected on first use.

The worker must start (and serve ``/health`` and ``/metrics``) even while the search
cluster is down: the engine is detected and the template installed the first time the
index agent needs them, waiting with the sink's retry policy until it answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from schemas.indices import FEEDBACK, IndexDef
from streams.search.base import IndexResult, SearchBackend
from streams.search.factory import connect_backend, detect_backend
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.metrics import Metrics


class LazyBackend:
    """A ``SearchSink`` that builds its ``SearchBackend`` on the first call."""

    def __init__(self, settings: Settings, metrics: Metrics, index: IndexDef = FEEDBACK) -> None:
        self.settings = settings
        self.metrics = metrics
        self.index = index
        self._backend: SearchBackend | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> SearchBackend:
        """The connected backend (template and alias installed)."""
        if self._backend is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._backend is None:
                    self._backend = await connect_backend(self.settings, metrics=self.metrics,
                                                          index=self.index)
        return self._backend

    async def ensure_index(self) -> None:
        await (await self.get()).ensure_index()

    async def bulk_index(self, docs: Sequence[dict[str, Any]]) -> list[IndexResult]:
        return await (await self.get()).bulk_index(docs)

    async def ping(self) -> bool:
        if self._backend is not None:
            return await self._backend.ping()
        try:
            await asyncio.to_thread(detect_backend, self.settings, 2.0)
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()
