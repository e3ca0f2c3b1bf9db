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
  commits straight over a one-offset hole (faust-streaming #606 / PR #707): lost;
* before a partition's first commit Faust has no floor at all: it commits the first
  run of acks it holds, whatever is missing below it. After a rebalance, recovery
  resumes the partitions before it seeks them, and then clears the streams' queues, so
  records delivered in between are dropped, and a never-committed partition is not
  seeked back to them: "5 of 2,438 missing with every offset committed";
* a delivered offset further on than the next one is taken for a transaction marker or
  compaction and the skipped offsets are marked done (``_add_gap``);
* a message that reaches a stream during a rebalance (flow control suspended, or
  fetched in an earlier consumer generation: queued for a busy agent, or put in its
  queue just after recovery cleared it) is skipped, and **acked** although no agent saw
  it - even by ``noack_take`` streams. The commit then passes it; its redelivered copy
  is refused as already acked, or is still queued when the next rebalance clears the
  queues: lost (the scale-in loss, 1 and 4 of 1,463, on partitions just taken over).

``SafeConsumer`` makes seeks authoritative and commits conservative:

1. every fetch is tagged with the seek count at the moment it was issued; records of
   a partition that was seeked after that are not delivered, and the partition is
   seeked to the same target again (the fetch may have raced the seek and advanced
   the position), so Kafka sends them again from the target. A message that was
   being delivered during the seek does not move the read offset past the target;
2. a commit never passes a message that is in flight (delivered, not acked) or
   missing. A missing head is **repaired** by seeking the partition back to the
   committed offset, again and again (backing off to ``REPAIR_BACKOFF_MAX_S``): the
   topics acked here have delete policy and no transactions, so every offset at or past
   the log start is a real record. After ``MAX_REPAIRS`` tries at one offset an error
   is logged and the log start is checked: only offsets below it (removed by
   retention) are marked done. (Giving up to Faust after five tries was the scale-in
   loss: the redelivered copy sat behind a backlog queued for the agent, Faust
   committed over it, and the next rebalance cleared the queue.);
3. an offset that is both acked (one copy) and in flight (a redelivered copy) stays in
   Faust's ack list: dropped there, it would stay in the ack index and the second copy's
   ack would never re-add it, a hole no redelivery can fill;
4. every partition has a floor for rule 2: the committed offset or, before the first
   commit, the log start (``auto_offset_reset`` is earliest; never-committed partitions
   are also seeked there after every assignment). While neither is known (between a
   revoke and the seek after the new assignment) nothing is committed. Skipped offsets
   are never marked done: they stay a hole, and get repaired;
5. seeks run in the consumer's own thread (Faust's ``_seek`` calls the thread-unsafe
   aiokafka consumer from the event loop's thread);
6. a partition with records to read, nothing in flight and no progress for 30 s is
   logged with its state and restarted (resumed, seeked to its floor);
7. only an ack of a message a stream really handed on counts: Faust tracks a message
   when a stream takes it, and never tracks one it skips, so an ack of an untracked
   message (the skip's) marks the message acked but leaves its offset missing (rule 2
   redelivers it).

At least once, as before: redelivered messages that were already processed come again
with the same ids, which the index and downstream absorb.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.transport.drivers.aiokafka import Transport as AIOKafkaTransport
from faust.types import TP, Message
from mode import Service

#: Seek-back attempts per (partition, committed offset) before the offset is checked
#: against the log start (retention) and an error is logged; repairs go on after that.
MAX_REPAIRS = 5
#: Seconds between the first two repairs of one partition (let the refetch arrive); each
#: further repair of the same offset waits twice as long, up to ``REPAIR_BACKOFF_MAX_S``
#: (a refetched record can sit behind thousands queued for a busy agent).
REPAIR_INTERVAL_S = 5.0
REPAIR_BACKOFF_MAX_S = 80.0
#: A partition with records past its floor, nothing in flight and no progress for this
#: long is stalled (rule 6); checked every ``STALL_CHECK_S``.
STALL_S = 30.0
STALL_CHECK_S = 10.0


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
        self._starts: dict[TP, int] = {}  # never-committed tp -> its log start offset

    # -- 1. seeks are authoritative ---------------------------------------------------

    def _mark_seek(self, tp: Any, offset: int) -> None:
        self._seek_seq += 1
        self._seeks[TP(tp.topic, tp.partition)] = (self._seek_seq, offset)

    async def _seek(self, partition: TP, offset: int) -> None:
        """Seek inside the consumer's own thread, then mark it.

        Faust's ``_seek`` calls aiokafka's ``seek`` directly from the event loop's
        thread, while the aiokafka consumer lives in its own thread with its own loop:
        the seek then races that thread's fetch (it deletes buffered records and
        completes a future of the other loop). Faust itself never calls it;
        ``SafeConsumer``'s re-seeks and repairs do, so it goes through the thread's
        method queue like every other call. (This alone did not end the stalls seen
        after a takeover; rules 4 and 6 did.) The seek is marked once it has happened:
        a fetch issued before that counts as stale (rule 1).
        """
        # call_thread runs plain functions too (mode's maybe_async); its stub wants async
        await self._thread.call_thread(self._thread.seek, partition, offset)  # type: ignore[arg-type]
        self._mark_seek(partition, offset)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        await super().seek_wait(partitions)
        for tp, offset in partitions.items():
            self._mark_seek(tp, offset)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        # log starts first: records delivered between these seeks and the queue clearing
        # that follows in Faust's recovery are dropped, so keep that window short
        starts = await self._log_starts(list(self.assignment()))
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            if offset and offset > 0:  # aiokafka seeks only these
                self._mark_seek(tp, offset)
        self._learn_starts(starts, [tp for tp, offset in committed.items()
                                    if not offset or offset < 0])
        if self._starts:
            # aiokafka leaves these where its own offset reset puts them; after a takeover
            # such partitions were seen never to deliver a record (assigned, active, not
            # paused, read offset None) until the stall watchdog seeked them: seek them to
            # their log start here, like the committed ones
            await self._thread.call_thread(
                self._seek_all, dict(self._starts))  # type: ignore[arg-type]
            for tp, offset in self._starts.items():
                self._mark_seek(tp, offset)
        return committed

    def _seek_all(self, offsets: Mapping[TP, int]) -> None:
        """In the consumer thread: seek several partitions in one go."""
        for tp, offset in offsets.items():
            self._thread.seek(tp, offset)

    async def _log_starts(self, partitions: list[Any]) -> dict[TP, int]:
        """The first offset still in the log of each partition ({} if the broker is away:
        the floor is then 0, which is safe: repairs, then Faust)."""
        tps = [TP(tp.topic, tp.partition) for tp in partitions]
        if not tps:
            return {}
        try:
            earliest = await self._thread.earliest_offsets(*tps)
        except Exception as exc:
            self.log.warning("log start offsets unknown (%r); assuming 0", exc)
            return {}
        return {TP(tp.topic, tp.partition): int(o) for tp, o in earliest.items()}

    def _learn_starts(self, starts: Mapping[TP, int], never_committed: list[Any]) -> None:
        """Where consumption of never-committed partitions starts (their log start:
        ``auto_offset_reset`` is earliest), so the commit rule has a floor for them too.

        Called on every assignment (Faust seeks to the committed offsets after each);
        replaces what the last assignment learnt."""
        tps = [TP(tp.topic, tp.partition) for tp in never_committed]
        self._starts = {tp: starts.get(tp, 0) for tp in tps}

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._starts.pop(TP(tp.topic, tp.partition), None)
        await super().on_partitions_revoked(revoked)

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
        if tp is None:
            return
        seek = self._seeked_since(tp, fetch_seq)
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

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Faust calls this when a delivered offset is not the one after the last read.
        It would mark the skipped offsets (and the message about to be delivered) as
        done: meant for transaction markers and compaction, neither of which the topics
        acked here have (delete policy, no transactions), so for them a gap is records
        that were never delivered. Leave it a hole: the commit stops in front of it and
        ``_repair`` seeks back to redeliver it."""
        self.log.warning("offsets %s..%s of %s were skipped in delivery; not marking them"
                         " done", offset_from, offset_to - 1, _name(tp))

    # -- 2. commits never pass an in-flight or missing message ------------------------

    def ack(self, message: Message) -> bool:
        """Count an ack only for a message a stream really took (rule 7).

        Faust's ``Stream`` skips a message that reaches it while flow control is
        suspended or from an earlier consumer generation (both during a rebalance), and
        **acks it anyway** - even under ``noack_take`` - without tracking it
        (``message.tracked`` stays False; every message a stream hands to an agent is
        tracked first). Counted, that ack lets the commit pass a record no agent ever
        processed; its redelivered copy is then refused as already acked, or dropped by
        the next rebalance's queue clearing: lost. A skipped message is marked acked
        (nothing waits for it) but its offset stays missing, so it is redelivered."""
        if not message.tracked and self.app.topics.acks_enabled_for(message.topic):
            message.acked = True
            self._unacked_messages.discard(message)
            self.log.dev("skipped, not processed: %s offset %s", _name(message.tp),
                         message.offset)
            return False
        return super().ack(message)

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        in_flight = min(
            (m.offset for m in list(self._unacked_messages) if m.tp == tp and not m.acked),
            default=None,
        )
        if acked:
            # unknown between a revoke and the seek after the assignment (Faust would then
            # commit whatever acks are left from the last generation)
            floor = self._floor(tp)
            if floor is None:
                return None
            head = min(acked) if in_flight is None else min(min(acked), in_flight)
            if head > floor:  # never committed over: an offset in the log is processed
                self._repair(tp, floor, head)
                return None
        return committable_offset(acked, in_flight,
                                  lambda: super(SafeConsumer, self)._new_offset(tp))

    def _floor(self, tp: TP) -> int | None:
        """The next offset to process: the committed one or, before the first commit, the
        log start (None while neither is known)."""
        committed = self._committed_offset[tp]
        return committed if committed is not None else self._starts.get(tp)

    # -- 6. a partition that stops being fetched is noticed and restarted -------------

    @Service.task
    async def _stall_watchdog(self) -> None:
        """Seen in the failover test under CPU load (2 of 12 runs): after the rebalance the
        survivor never fetched the partitions it took over (lag 1,146, nothing in flight,
        ``/health`` ok) while its other partitions went on. Rather than wait for the
        next rebalance, a partition with records past its floor, nothing in flight and
        no progress for ``STALL_S`` is logged with its state and restarted: resumed and
        seeked to its floor (at least once: what is redelivered has stable ids)."""
        progress: dict[TP, tuple[Any, float]] = {}
        async for _ in self.itertimer(STALL_CHECK_S, name="stall-watchdog"):
            if self.app.rebalancing or not self.flow_active:
                progress.clear()
                continue
            try:
                state = await self._work_state()
            except Exception as exc:  # broker away, consumer restarting: next round
                self.log.debug("stall check skipped: %r", exc)
                continue
            for tp in stalled(progress, {tp: (key, work) for tp, (key, work, _) in
                                         state.items()}, time.monotonic()):
                await self._restart_partition(tp, state[tp][2])

    async def _work_state(self) -> dict[TP, tuple[Any, bool, int]]:
        """tp -> (progress key, has work, floor) for the acked topics assigned here."""
        acks_enabled = self.app.topics.acks_enabled_for
        tps = [TP(tp.topic, tp.partition) for tp in self.assignment()
               if acks_enabled(tp.topic)]
        if not tps:
            return {}
        ends = {tp: self._cached_highwater(tp) for tp in tps}
        never_fetched = [tp for tp, end in ends.items() if end is None]
        if never_fetched:  # the stall seen: a partition never fetched since its assignment
            ends.update(await self.highwaters(*never_fetched))
        in_flight = {m.tp for m in list(self._unacked_messages) if not m.acked}
        out: dict[TP, tuple[Any, bool, int]] = {}
        for tp in tps:
            floor = self._floor(tp)
            end = ends.get(tp)
            if floor is None or end is None:
                continue
            key = (self._read_offset[tp], self._committed_offset[tp])
            out[tp] = (key, end > floor and tp not in in_flight, floor)
        return out

    def _cached_highwater(self, tp: TP) -> int | None:
        """The end offset the last fetch of ``tp`` reported (no broker round trip every
        check; only partitions never fetched need one)."""
        try:
            end = self.highwater(tp)
        except Exception:  # not assigned any more
            return None
        return int(end) if end is not None else None

    async def _restart_partition(self, tp: TP, floor: int) -> None:
        self.log.warning(
            "%s stalled: nothing fetched or in flight for %.0f s with records past offset %s"
            " (read offset %s, active %s, paused %s, buffered %s); resuming it from %s",
            _name(tp), STALL_S, floor, self._read_offset[tp],
            tp in self._get_active_partitions(), tp in self._paused_partitions,
            tp in self._buffered_partitions, floor)
        self._buffered_partitions.discard(tp)
        self.resume_partitions([tp])
        try:
            await self.seek(tp, floor)
        except Exception as exc:  # revoked meanwhile: the next assignment seeks anyway
            self.log.warning("restart of %s failed: %r", _name(tp), exc)

    def _repair(self, tp: TP, committed: int, head: int) -> None:
        """Seek ``tp`` back to ``committed`` (rate-limited, backing off per try).

        Never gives up: the topics acked here have delete policy and no transactions,
        so an offset at or past the log start is a real record, and committing over it
        loses it. After ``MAX_REPAIRS`` tries the log start is checked once per offset:
        offsets below it (removed by retention) are the only ones marked done."""
        tries = self._repairs.get((tp, committed), 0)
        now = time.monotonic()
        if now - self._repaired_at.get(tp, float("-inf")) < repair_interval(tries):
            return  # a repair is under way: hold the commit
        if tries == MAX_REPAIRS:
            self.log.error(
                "offset %s of %s still missing after %d redeliveries; holding the commit,"
                " checking the log start, and seeking back again", committed, _name(tp),
                MAX_REPAIRS)
            self._spawn(self._skip_below_log_start(tp, committed))
        self._repairs[(tp, committed)] = tries + 1
        self._repaired_at[tp] = now
        self.log.warning(
            "offset %s of %s was never processed (next seen: %s); seeking back to redeliver"
            " (try %d, acked before: %s, read offset: %s)",
            committed, _name(tp), head, tries + 1, committed in self._acked_index[tp],
            self._read_offset[tp])
        self._spawn(self._seek_back(tp, committed))

    def _spawn(self, coro: Any) -> None:
        fut = asyncio.ensure_future(coro)
        self._repair_tasks.add(fut)
        fut.add_done_callback(self._repair_tasks.discard)

    async def _skip_below_log_start(self, tp: TP, committed: int) -> None:
        """Mark ``committed`` .. log start - 1 done if retention removed them (they can
        never be redelivered); anything at or past the log start stays missing."""
        start = (await self._log_starts([tp])).get(tp)
        if start is None or start <= committed or self._floor(tp) != committed:
            return
        self.log.warning("offsets %s..%s of %s were removed by retention; skipping them",
                         committed, start - 1, _name(tp))
        index = self._acked_index[tp]
        gone = [o for o in range(committed, start) if o not in index]
        index.update(gone)
        self._acked[tp].extend(gone)
        self._acked[tp].sort()

    async def _seek_back(self, tp: TP, offset: int) -> None:
        try:
            if tp in self.assignment():
                await self.seek(tp, offset)
        except Exception as exc:  # revoked meanwhile, or broker away: retried next commit
            self.log.warning("seek back of %s to %s failed: %r", _name(tp), offset, exc)


def stalled(progress: dict[TP, tuple[Any, float]], state: Mapping[TP, tuple[Any, bool]],
            now: float, stall_s: float = STALL_S) -> list[TP]:
    """Partitions whose ``state`` key has not changed for ``stall_s`` while they had work.

    ``state`` maps each partition to (progress key, has work: records past its floor and
    nothing of it in flight). ``progress`` (tp -> (key, since)) is updated in place;
    partitions without work, or whose key moved, start over."""
    out = []
    for tp, (key, has_work) in state.items():
        last = progress.get(tp)
        if not has_work or last is None or last[0] != key:
            progress[tp] = (key, now)
            continue
        if now - last[1] >= stall_s:
            out.append(tp)
            progress[tp] = (key, now)  # healed now; look again after another stall_s
    for tp in set(progress) - set(state):
        del progress[tp]
    return out


def repair_interval(tries: int) -> float:
    """Seconds a partition waits after its last repair before one more of an offset
    already tried ``tries`` times: ``REPAIR_INTERVAL_S``, doubled from the third try on,
    at most ``REPAIR_BACKOFF_MAX_S``."""
    return min(REPAIR_INTERVAL_S * 2 ** min(max(tries - 1, 0), 16), REPAIR_BACKOFF_MAX_S)


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


class SafeTransport(AIOKafkaTransport):
    """Faust's aiokafka transport with ``SafeConsumer`` as its consumer class."""

    Consumer = SafeConsumer
