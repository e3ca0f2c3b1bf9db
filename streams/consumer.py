"""A Faust consumer that never commits past a message it has not processed.

faust-streaming 0.15 can lose or strand messages around a rebalance (seen here as
"one of 2,438 documents missing with every offset committed", and as a survivor
whose commits stall forever after its peer is killed):

* records fetched *before* a rebalance's seek-to-committed can be delivered *after*
  it; they move Faust's read offset ahead, and the refetch from the committed offset
  is then dropped as already read ("DROPPED MESSAGE ROFF"). The committed offset's
  message is never acked: a **hole** at the head of the partition.
* ``_new_offset`` then either stalls for good (hole wider than one offset) or, off by
  one, commits straight over a one-offset hole (faust-streaming #606 / PR #707): the
  message is lost.

``SafeConsumer`` changes only the commit decision: it never commits past a message
that is in flight (delivered, not yet acked) or missing. A missing head is
**repaired**: the partition is seeked back to the committed offset, so Kafka
redelivers from there (at least once: the redelivered messages that were already
processed are duplicates with the same ids, which the index and downstream absorb).
After ``MAX_REPAIRS`` tries at the same offset it gives up loudly and leaves the
decision to Faust (an offset that truly does not exist, e.g. removed by retention).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP

#: Seek-back attempts per (partition, committed offset) before deferring to Faust.
MAX_REPAIRS = 5
#: Minimum seconds between two repairs of one partition (let the refetch arrive).
REPAIR_INTERVAL_S = 5.0


class SafeConsumer(AIOKafkaConsumer):
    """aiokafka consumer whose commits never pass an in-flight or missing message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._repairs: dict[tuple[TP, int], int] = {}
        self._repaired_at: dict[TP, float] = {}
        self._repair_tasks: set[asyncio.Future[None]] = set()

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        in_flight = min(
            (m.offset for m in list(self._unacked_messages) if m.tp == tp and not m.acked),
            default=None,
        )
        if committed is not None and acked:
            head = min(acked) if in_flight is None else min(min(acked), in_flight)
            if head > committed and self._repair(tp, committed, head):
                return None
        return committable_offset(acked, in_flight,
                                  lambda: super(SafeConsumer, self)._new_offset(tp))

    def _repair(self, tp: TP, committed: int, head: int) -> bool:
        """Seek ``tp`` back to ``committed`` (rate-limited); False once repairs are used up."""
        tries = self._repairs.get((tp, committed), 0)
        if tries >= MAX_REPAIRS:
            if tries == MAX_REPAIRS:
                self._repairs[(tp, committed)] = tries + 1
                self.log.error(
                    "offset %s of %s still missing after %d redeliveries; leaving it to Faust",
                    committed, _name(tp), MAX_REPAIRS)
            return False
        now = time.monotonic()
        if now - self._repaired_at.get(tp, float("-inf")) < REPAIR_INTERVAL_S:
            return True  # a repair is under way: hold the commit
        self._repairs[(tp, committed)] = tries + 1
        self._repaired_at[tp] = now
        self.log.warning(
            "offset %s of %s was never processed (next seen: %s); seeking back to redeliver",
            committed, _name(tp), head)
        fut = asyncio.ensure_future(self._seek_back(tp, committed))
        self._repair_tasks.add(fut)
        fut.add_done_callback(self._repair_tasks.discard)
        return True

    async def _seek_back(self, tp: TP, offset: int) -> None:
        try:
            if tp in self.assignment():
                await self.seek(tp, offset)
        except Exception as exc:  # revoked meanwhile, or broker away: retried next commit
            self.log.warning("seek back of %s to %s failed: %r", _name(tp), offset, exc)


def _name(tp: TP) -> str:
    """``topic[partition]`` (Faust's log formatter abbreviates tuples to ``<len=2>``)."""
    return f"{tp.topic}[{tp.partition}]"


def committable_offset(acked: list[int], first_in_flight: int | None,
                       faust_new_offset: Callable[[], Any]) -> int | None:
    """Faust's next commit offset, held back so it never passes ``first_in_flight``.

    ``acked`` is Faust's (mutable) list of acked offsets for one partition and
    ``faust_new_offset`` computes Faust's answer from it (consuming what it commits).
    Acks past the in-flight message are set aside while Faust computes, then put back.
    """
    if first_in_flight is None or not acked:
        return faust_new_offset()
    held = [o for o in acked if o > first_in_flight]
    if not held:
        return faust_new_offset()
    acked[:] = [o for o in acked if o < first_in_flight]
    try:
        return faust_new_offset() if acked else None
    finally:
        acked.extend(held)
        acked.sort()
