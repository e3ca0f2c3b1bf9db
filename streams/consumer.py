"""A Faust consumer that never commits past a message it has not processed.

faust-streaming 0.15 can lose or strand messages around a seek (every rebalance and
every restart seeks the partitions to their committed offsets). Seen here as "one of
2,438 documents missing with every offset committed", and as workers whose commits
stall forever after a peer is killed or after a restart:

* records fetched *before* a seek can be delivered *after* it (the fetch loop goes on
  through a batch it already holds, and a message being handed to a stream when the
  seek happens is finished afterwards). Each moves Faust's read offset ahead, and the
  refetch from the seek target is then dropped as already read ("DROPPED MESSAGE
  ROFF"): a **hole** at the head of the partition, never processed, never acked;
* ``_new_offset`` then stalls for good (hole wider than one offset) or, off by one,
  commits straight over a one-offset hole (faust-streaming #606 / PR #707): lost.

``SafeConsumer`` makes seeks authoritative and commits conservative:

1. every fetch is tagged with the seek count at the moment it was issued; records of
   a partition that was seeked after that are not delivered, and the partition is
   seeked to the same target again (the fetch may have raced the seek and advanced
   the position), so Kafka sends them again from the target. A message that was
   being delivered during the seek does not move the read offset past the target;
2. a commit never passes a message that is in flight (delivered, not acked) or
   missing. A missing head is **repaired** by seeking the partition back to the
   committed offset. After ``MAX_REPAIRS`` tries at one offset (an offset that truly
   does not exist, e.g. removed by retention) it logs an error and lets Faust decide;
3. an offset that is both acked (one copy) and in flight (a redelivered copy) stays in
   Faust's ack list: dropped there, it would stay in the ack index and the second copy's
   ack would never re-add it, a hole no redelivery can fill.

At least once, as before: redelivered messages that were already processed come again
with the same ids, which the index and downstream absorb.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP, Message

#: Seek-back attempts per (partition, committed offset) before deferring to Faust.
MAX_REPAIRS = 5
#: Minimum seconds between two repairs of one partition (let the refetch arrive).
REPAIR_INTERVAL_S = 5.0


class SafeConsumer(AIOKafkaConsumer):
    """aiokafka consumer whose commits never pass an in-flight or missing message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seek_seq = 0  # seeks so far
        self._seeks: dict[TP, tuple[int, int]] = {}  # tp -> (seek number, target offset)
        self._fetch_seq = 0  # seek count when the fetch being delivered was issued
        self._repairs: dict[tuple[TP, int], int] = {}
        self._repaired_at: dict[TP, float] = {}
        self._repair_tasks: set[asyncio.Future[None]] = set()

    # -- 1. seeks are authoritative ---------------------------------------------------

    def _mark_seek(self, tp: Any, offset: int) -> None:
        self._seek_seq += 1
        self._seeks[TP(tp.topic, tp.partition)] = (self._seek_seq, offset)

    async def seek(self, partition: TP, offset: int) -> None:
        self._mark_seek(partition, offset)
        await super().seek(partition, offset)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        for tp, offset in partitions.items():
            self._mark_seek(tp, offset)
        await super().seek_wait(partitions)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            if offset and offset > 0:  # aiokafka seeks only these
                self._mark_seek(tp, offset)
        return committed

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        issued_at = self._seek_seq
        records = await super()._getmany(active_partitions, timeout)
        self._fetch_seq = issued_at
        return records

    def _seeked_since(self, tp: TP, fetch_seq: int) -> tuple[int, int] | None:
        seek = self._seeks.get(tp)
        return seek if seek is not None and seek[0] > fetch_seq else None

    def _undo_stale_read_offset(self, tp: TP | None, fetch_seq: int) -> None:
        """The message just delivered was fetched before a seek of its partition: the
        drain loop set the read offset to it; put it back to the seek target."""
        seek = self._seeked_since(tp, fetch_seq) if tp is not None else None
        if seek is not None:
            self._read_offset[tp] = seek[1]

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        fetch_seq: int | None = None
        delivered: TP | None = None
        reseeked: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if fetch_seq is None:
                fetch_seq = self._fetch_seq
            self._undo_stale_read_offset(delivered, fetch_seq)
            delivered = None
            seek = self._seeked_since(tp, fetch_seq)
            if seek is not None:
                if tp not in reseeked:  # the fetch may have raced the seek: seek again
                    reseeked.add(tp)
                    self.log.info("dropping records of %s fetched before a seek to %s",
                                  _name(tp), seek[1])
                    await self.seek(tp, seek[1])
                continue
            delivered = tp
            yield tp, message
        if fetch_seq is not None:
            self._undo_stale_read_offset(delivered, fetch_seq)

    # -- 2. commits never pass an in-flight or missing message ------------------------

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
            "offset %s of %s was never processed (next seen: %s); seeking back to redeliver"
            " (acked before: %s, read offset: %s)",
            committed, _name(tp), head, committed in self._acked_index[tp],
            self._read_offset[tp])
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
    # ">=": an offset can be acked (one copy) and in flight (a redelivered copy) at once;
    # it must stay in the list, or the second copy's ack (already indexed) never re-adds it
    held = [o for o in acked if o >= first_in_flight]
    if not held:
        return faust_new_offset()
    acked[:] = [o for o in acked if o < first_in_flight]
    try:
        return faust_new_offset() if acked else None
    finally:
        acked.extend(held)
        acked.sort()
