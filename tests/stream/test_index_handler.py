"""IndexHandler: retries until the backend has every document; rejects are dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from streams.handlers.index import IndexHandler
from streams.search import IndexResult, SearchUnavailable
from tests.stream.conftest import event


def doc(i: int) -> bytes:
    return json.dumps({"id": f"sms:SM{i}", "received_at": "2026-11-25T18:00:00+00:00"}).encode()


class ScriptedBackend:
    """Answers bulk_index from a script: an exception, or a status per document id."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls: list[list[str]] = []

    async def bulk_index(self, docs: Sequence[dict[str, Any]]) -> list[IndexResult]:
        self.calls.append([d["id"] for d in docs])
        step = self.script.pop(0) if self.script else {}
        if isinstance(step, Exception):
            raise step
        out = []
        for d in docs:
            status = step.get(d["id"], 201)
            stale = status == 409  # a versioned write older than the stored document
            out.append(IndexResult(id=d["id"], ok=status < 300 or stale, status=status,
                                   error=None if status < 300 or stale
                                   else "mapper_parsing_exception",
                                   retryable=status in (403, 429, 503), stale=stale))
        return out


async def no_sleep(_: float) -> None:
    return None


def handler(backend: ScriptedBackend, metrics: Any) -> IndexHandler:
    return IndexHandler(backend=backend, metrics=metrics, sleep=no_sleep,
                        clock=lambda: 1_795_629_601.5)  # 2026-11-25T18:00:01.5Z


async def test_outage_is_retried_until_indexed(metrics) -> None:  # type: ignore[no-untyped-def]
    backend = ScriptedBackend([SearchUnavailable("down"), SearchUnavailable("down"), {}])
    out = await handler(backend, metrics).handle([event(doc(1)), event(doc(2), offset=1)])
    assert backend.calls == [["sms:SM1", "sms:SM2"]] * 3
    assert out.records == []
    assert metrics.value("voc_index_retries_total") == 2
    assert metrics.value("voc_end_to_end_seconds_count") == 2
    assert metrics.value("voc_end_to_end_seconds_sum") == 3.0
    assert metrics.value("voc_index_last_success_timestamp_seconds") == 1_795_629_601.5


async def test_last_success_stays_unset_while_search_is_down(metrics) -> None:  # type: ignore[no-untyped-def]
    backend = ScriptedBackend([SearchUnavailable("down")])
    h = handler(backend, metrics)

    async def give_up(_: float) -> None:
        raise RuntimeError("stop retrying")

    h.sleep = give_up
    with pytest.raises(RuntimeError, match="stop retrying"):
        await h.handle([event(doc(1))])
    assert backend.calls == [["sms:SM1"]]
    assert metrics.value("voc_index_last_success_timestamp_seconds") == 0.0


async def test_retryable_docs_are_resent_and_rejects_dead_lettered(metrics) -> None:  # type: ignore[no-untyped-def]
    backend = ScriptedBackend([{"sms:SM2": 429, "sms:SM3": 400}, {}])
    events = [event(doc(i), offset=i) for i in (1, 2, 3)]
    out = await handler(backend, metrics).handle(events)
    assert backend.calls == [["sms:SM1", "sms:SM2", "sms:SM3"], ["sms:SM2"]]
    (dl,) = [json.loads(r.value) for r in out.for_topic("deadletter")]
    assert dl["reason"] == "index_rejected" and dl["offset"] == 3
    assert "400" in dl["error"]


async def test_unparseable_enriched_record_is_dead_lettered(metrics) -> None:  # type: ignore[no-untyped-def]
    backend = ScriptedBackend([{}])
    out = await handler(backend, metrics).handle(
        [event(b"oops", offset=0), event(b"[1]", offset=1), event(doc(1), offset=2)])
    assert [json.loads(r.value)["reason"] for r in out.for_topic("deadletter")] == \
        ["invalid_enriched", "invalid_enriched"]
    assert backend.calls == [["sms:SM1"]]


async def test_duplicate_ids_in_a_batch_are_indexed_once(metrics) -> None:  # type: ignore[no-untyped-def]
    backend = ScriptedBackend([{}])
    await handler(backend, metrics).handle([event(doc(1)), event(doc(1), offset=1)])
    assert backend.calls == [["sms:SM1"]]


async def test_stale_and_blocked_writes_are_neither_errors_nor_dead_letters(metrics) -> None:  # type: ignore[no-untyped-def]
    """409 (an older copy replayed): done, no dead letter, no latency sample; a blocked
    document (403 write block) is sent again until the block is lifted."""
    backend = ScriptedBackend([{"sms:SM1": 409, "sms:SM2": 403}, {"sms:SM2": 403}, {}])
    out = await handler(backend, metrics).handle([event(doc(1)), event(doc(2), offset=1)])
    assert out.for_topic("deadletter") == []
    assert backend.calls == [["sms:SM1", "sms:SM2"], ["sms:SM2"], ["sms:SM2"]]
    assert metrics.value("voc_end_to_end_seconds_count") == 1  # SM2 only
