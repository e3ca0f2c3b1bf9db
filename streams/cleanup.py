"""Remove everything one run left behind: its search indexes and all its topics.

Tests and benchmarks run a worker on their own topic prefix, alias and consumer group;
this is their one teardown, whatever happened during the run.
"""

from __future__ import annotations

import asyncio

from streams.settings import Settings


def remove_run(settings: Settings) -> None:
    """Drop the alias and its indexes, then the contract topics and Faust's own topics."""
    from streams.search import make_backend
    from streams.topics import delete_internal_topics, delete_topics

    async def drop() -> None:
        backend = make_backend(settings)
        try:
            await backend.drop()
        finally:
            await backend.close()

    try:
        asyncio.run(drop())
    finally:
        delete_topics(settings)
        delete_internal_topics(settings)
