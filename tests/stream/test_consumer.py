"""SafeConsumer: never commits past an in-flight message; installed on the worker app."""

from __future__ import annotations

from streams.app import create_app
from streams.consumer import SafeConsumer, committable_offset
from streams.settings import Settings


def _faust_like(acked: list[int], committed: int | None):
    """Faust 0.15's rule: commit the first consecutive run, tolerating a 1-offset head gap."""

    def new_offset() -> int | None:
        if not acked:
            return None
        acked.sort()
        if committed and min(acked) - committed > 1:
            return None
        run = [acked[0]]
        for o in acked[1:]:
            if o != run[-1] + 1:
                break
            run.append(o)
        del acked[: len(run)]
        return run[-1] + 1

    return new_offset


def test_faust_rule_alone_commits_over_a_missing_head_offset() -> None:
    # the bug being guarded: 100 is in flight, 101..103 acked -> Faust commits 104
    acked = [101, 102, 103]
    assert _faust_like(acked, committed=100)() == 104


def test_in_flight_head_holds_the_commit_back() -> None:
    acked = [101, 102, 103]
    assert committable_offset(acked, 100, _faust_like(acked, committed=100)) is None
    assert acked == [101, 102, 103], "held acks are put back for the next commit"


def test_commit_stops_just_before_the_in_flight_message() -> None:
    acked = [100, 101, 102, 104, 105]
    assert committable_offset(acked, 103, _faust_like(acked, committed=100)) == 103
    assert acked == [104, 105]


def test_an_offset_acked_and_in_flight_at_once_is_kept() -> None:
    # a redelivered copy of 101 is in flight while the first copy's ack is in the list
    acked = [100, 101, 102]
    assert committable_offset(acked, 101, _faust_like(acked, committed=100)) == 101
    assert acked == [101, 102], "101 must stay: the second copy's ack will not add it again"


def test_nothing_in_flight_is_faust_unchanged() -> None:
    acked = [100, 101, 102]
    assert committable_offset(acked, None, _faust_like(acked, committed=100)) == 103
    assert acked == []
    acked = [5, 6]
    assert committable_offset(acked, 2, _faust_like(acked, committed=None)) is None
    assert acked == [5, 6]


def test_worker_app_uses_the_safe_consumer(tmp_path) -> None:  # noqa: ANN001
    app = create_app(Settings(worker_data_dir=tmp_path))
    assert app.transport.Consumer is SafeConsumer


def test_the_apps_transport_is_the_one_faust_would_build_but_safe(tmp_path) -> None:  # noqa: ANN001
    """VocApp replaces Faust's private ``_new_transport``: fail loudly if Faust's changes."""
    import faust

    from streams.consumer import SafeTransport

    app = create_app(Settings(worker_data_dir=tmp_path, kafka_bootstrap="h1:9092,h2:9093"))
    faust_own = faust.App._new_transport(app)
    assert isinstance(app.transport, SafeTransport)
    assert isinstance(app.transport, type(faust_own))
    assert app.transport.url == faust_own.url
    assert [str(u) for u in app.transport.url] == ["kafka://h1:9092", "kafka://h2:9093"]
    assert app.transport.app is app


class _Msg:
    def __init__(self, tp, offset: int, acked: bool = False) -> None:  # noqa: ANN001
        self.tp, self.offset, self.acked = tp, offset, acked


def _bare_consumer(committed: int, acked: list[int], in_flight: list[int] = ()):  # noqa: ANN202
    """A SafeConsumer with only the state ``_new_offset`` reads (no Kafka, no loop)."""
    import logging
    from collections import defaultdict

    from faust.types import TP

    tp = TP("t", 0)
    c = SafeConsumer.__new__(SafeConsumer)
    c.__dict__.update(
        _acked=defaultdict(list, {tp: list(acked)}), _acked_index=defaultdict(set),
        _committed_offset=defaultdict(lambda: None, {tp: committed}),
        _gap=defaultdict(list), _unacked_messages={_Msg(tp, o) for o in in_flight},
        _read_offset=defaultdict(lambda: None),
        _repairs={}, _repaired_at={}, _repair_tasks=set(), _starts={},
        log=_TestLog(logging.getLogger("test.consumer")), seeks=[],
    )
    return c, tp


def test_missing_head_is_never_committed_over_and_is_redelivered(monkeypatch) -> None:  # noqa: ANN001
    import streams.consumer as mod

    c, tp = _bare_consumer(committed=100, acked=[101, 102, 103])
    monkeypatch.setattr(mod.asyncio, "ensure_future", lambda coro: (coro.close(), _Done())[1])
    monkeypatch.setattr(SafeConsumer, "_seek_back", lambda self, t, o: _record(self, t, o))
    assert c._new_offset(tp) is None
    assert c.seeks == [(tp, 100)]
    assert c._new_offset(tp) is None and c.seeks == [(tp, 100)], "one repair at a time"
    # the redelivered 100 is acked: the commit moves on normally
    c._acked[tp].append(100)
    assert c._new_offset(tp) == 104


def test_repairs_never_give_up_on_an_offset_still_in_the_log(monkeypatch) -> None:  # noqa: ANN001
    """The scale-in loss: after five repairs Faust was left to commit over a real record."""
    import streams.consumer as mod

    c, tp = _bare_consumer(committed=100, acked=[101, 102, 103])
    monkeypatch.setattr(mod.asyncio, "ensure_future", lambda coro: (coro.close(), _Done())[1])
    monkeypatch.setattr(SafeConsumer, "_seek_back", lambda self, t, o: _record(self, t, o))
    monkeypatch.setattr(mod, "REPAIR_INTERVAL_S", 0.0)
    for _ in range(3 * mod.MAX_REPAIRS):
        assert c._new_offset(tp) is None, "a missing offset in the log is never committed over"
    assert c.seeks == [(tp, 100)] * (3 * mod.MAX_REPAIRS)
    c._acked[tp].append(100)  # the redelivery finally gets through
    assert c._new_offset(tp) == 104


def test_repairs_back_off() -> None:
    from streams.consumer import REPAIR_BACKOFF_MAX_S, REPAIR_INTERVAL_S, repair_interval

    waits = [repair_interval(n) for n in range(10)]
    assert waits[:3] == [REPAIR_INTERVAL_S, REPAIR_INTERVAL_S, 2 * REPAIR_INTERVAL_S]
    assert waits == sorted(waits) and waits[-1] == REPAIR_BACKOFF_MAX_S


async def test_only_offsets_removed_by_retention_are_skipped() -> None:
    c, tp = _bare_consumer(committed=100, acked=[105, 106])

    async def log_start(tps):  # noqa: ANN001, ANN202
        return {tp: 103}

    c._log_starts = log_start
    await c._skip_below_log_start(tp, 100)
    assert sorted(c._acked[tp]) == [100, 101, 102, 105, 106]
    assert c._new_offset(tp) == 103, "103 and 104 are in the log: the commit stops there"

    c, tp = _bare_consumer(committed=100, acked=[105])

    async def same_start(tps):  # noqa: ANN001, ANN202
        return {tp: 100}

    c._log_starts = same_start
    await c._skip_below_log_start(tp, 100)
    assert c._acked[tp] == [105]


def test_an_ack_for_a_message_a_stream_skipped_is_not_counted() -> None:
    """Faust's Stream acks a message it skips during a rebalance (old generation, flow
    control off) without tracking it: that must not count as processed."""
    from collections import defaultdict
    from types import SimpleNamespace

    from faust.types.tuples import ConsumerMessage

    c, tp = _bare_consumer(committed=100, acked=[])
    c.__dict__.update(_acked_index=defaultdict(set), _n_acked=0, _waiting_for_ack=None,
                      app=SimpleNamespace(topics=SimpleNamespace(
                          acks_enabled_for=lambda topic: True)))
    c._unacked_messages = set()
    skipped = ConsumerMessage(tp.topic, tp.partition, 100, 0.0, 0, [], b"k", b"v", None)
    assert not skipped.tracked
    assert c.ack(skipped) is False
    assert skipped.acked and c._acked[tp] == [] and 100 not in c._acked_index[tp]
    processed = ConsumerMessage(tp.topic, tp.partition, 100, 0.0, 0, [], b"k", b"v", None)
    processed.tracked = True  # what a stream does to a message it hands on
    c._unacked_messages.add(processed)
    assert c.ack(processed) is True
    assert c._acked[tp] == [100] and c._unacked_messages == set()


def test_in_flight_head_is_waited_for_not_repaired(monkeypatch) -> None:  # noqa: ANN001
    import streams.consumer as mod

    c, tp = _bare_consumer(committed=100, acked=[100, 101, 103], in_flight=[102])
    monkeypatch.setattr(SafeConsumer, "_seek_back", lambda self, t, o: _record(self, t, o))
    monkeypatch.setattr(mod.asyncio, "ensure_future", lambda coro: (coro.close(), _Done())[1])
    assert c._new_offset(tp) == 102
    assert c.seeks == []


class _TestLog:
    """mode's CompositeLogger also has ``dev``."""

    def __init__(self, log) -> None:  # noqa: ANN001
        self._log = log

    def __getattr__(self, name: str):  # noqa: ANN204
        return self._log.debug if name == "dev" else getattr(self._log, name)


class _Done:
    def add_done_callback(self, fn) -> None:  # noqa: ANN001
        pass


async def _noop() -> None:
    return None


def _record(self, tp, offset):  # noqa: ANN001, ANN202
    self.seeks.append((tp, offset))
    return _noop()


class _ConsumerThread:
    """Stands in for Faust's consumer thread: ``call_thread`` runs the call in another
    thread, as mode's method queue does; ``seek`` records where it ran."""

    def __init__(self, on_seek=None) -> None:  # noqa: ANN001
        self.on_seek = on_seek
        self.seek_threads: list[str] = []

    async def call_thread(self, fun, *args):  # noqa: ANN001, ANN202
        import asyncio

        return await asyncio.to_thread(fun, *args)

    def seek(self, tp, offset: int) -> None:  # noqa: ANN001
        import threading

        self.seek_threads.append(threading.current_thread().name)
        if self.on_seek is not None:
            self.on_seek(tp, offset)


async def test_seeks_run_in_the_consumer_thread_and_then_count() -> None:
    """aiokafka is not thread-safe: a seek from the event loop's thread raced the
    consumer thread's fetch and stalled the worker. It must go through ``call_thread``;
    it counts for rule 1 only once it has happened."""
    import threading
    from collections import defaultdict

    from faust.types import TP

    tp = TP("t", 0)
    c, _ = _bare_consumer(committed=5, acked=[])
    seq_at_seek: list[int] = []
    thread = _ConsumerThread(lambda t, o: seq_at_seek.append(c._seek_seq))
    c.__dict__.update(_seek_seq=0, _seeks={}, _read_offset=defaultdict(lambda: None),
                      _thread=thread)
    await c.seek(tp, 42)
    assert thread.seek_threads and thread.seek_threads[0] != threading.current_thread().name
    assert seq_at_seek == [0], "not marked before the seek happened"
    assert c._seeks[tp] == (1, 42) and c._read_offset[tp] == 42


async def test_records_fetched_before_a_seek_are_not_delivered_after_it(monkeypatch) -> None:  # noqa: ANN001
    """The drain loop's view: a seek lands while message 12 is being delivered."""
    from collections import defaultdict

    from faust.transport.consumer import Consumer as BaseConsumer
    from faust.transport.consumer import ThreadDelegateConsumer
    from faust.types import TP

    tp = TP("t", 0)
    batches = [{tp: [10, 11, 12, 13, 14]}, {tp: [5, 6, 7]}]
    thread_seeks: list[tuple[TP, int]] = []

    async def fake_thread_getmany(self, active, timeout):  # noqa: ANN001, ANN202
        return batches.pop(0)

    async def fake_base_getmany(self, timeout):  # noqa: ANN001, ANN202 - Faust's loop, minus flow control
        for t, offsets in (await self._getmany(None, timeout)).items():
            for o in offsets:
                yield t, _Msg(t, o)

    monkeypatch.setattr(ThreadDelegateConsumer, "_getmany", fake_thread_getmany)
    monkeypatch.setattr(BaseConsumer, "getmany", fake_base_getmany)
    c, _ = _bare_consumer(committed=5, acked=[])
    c.__dict__.update(_seek_seq=0, _seeks={}, _fetch_seq=0,
                      _read_offset=defaultdict(lambda: None),
                      _thread=_ConsumerThread(lambda t, o: thread_seeks.append((t, o))))

    delivered = []
    async for t, msg in c.getmany(1.0):  # what Faust's _drain_messages does per message
        delivered.append(msg.offset)
        if msg.offset == 12:  # a rebalance seeks to the committed offset meanwhile
            await c.seek(t, 5)
        c._read_offset[t] = msg.offset  # set_read_offset(tp, offset) after the callback
    assert delivered == [10, 11, 12], "13 and 14 were fetched before the seek"
    assert c._read_offset[tp] == 5, "the stale delivery must not move the read offset"
    assert thread_seeks == [(tp, 5), (tp, 5)], "seeked again: the fetch may have raced it"

    delivered.clear()
    async for t, msg in c.getmany(1.0):
        delivered.append(msg.offset)
        c._read_offset[t] = msg.offset
    assert delivered == [5, 6, 7] and c._read_offset[tp] == 7


async def test_a_delivery_gap_stays_a_hole_and_is_repaired(monkeypatch) -> None:  # noqa: ANN001
    """Faust would mark offsets skipped in delivery as done (meant for transaction
    markers); on these delete-policy topics they are records nobody processed."""
    import streams.consumer as mod

    c, tp = _bare_consumer(committed=5, acked=[])
    await c._add_gap(tp, 5, 9)  # the drain loop saw 9 right after read offset 4
    assert not c._gap[tp], "no offset may be marked done without being processed"
    c._acked[tp].extend([9, 10])
    monkeypatch.setattr(mod.asyncio, "ensure_future", lambda coro: (coro.close(), _Done())[1])
    monkeypatch.setattr(SafeConsumer, "_seek_back", lambda self, t, o: _record(self, t, o))
    assert c._new_offset(tp) is None
    assert c.seeks == [(tp, 5)], "seeked back to redeliver 5..8"


def test_before_the_first_commit_the_log_start_is_the_floor(monkeypatch) -> None:  # noqa: ANN001
    """Faust alone commits 7 here: offsets 0..3 were delivered, dropped from a cleared
    queue and never processed, and nothing below the acks is known to be committed."""
    import streams.consumer as mod

    monkeypatch.setattr(mod.asyncio, "ensure_future", lambda coro: (coro.close(), _Done())[1])
    monkeypatch.setattr(SafeConsumer, "_seek_back", lambda self, t, o: _record(self, t, o))
    c, tp = _bare_consumer(committed=None, acked=[4, 5, 6])
    assert _faust_like([4, 5, 6], committed=None)() == 7, "the loss being guarded"
    assert c._new_offset(tp) is None, "start unknown (revoked, not seeked yet): wait"
    assert c.seeks == []
    c._starts[tp] = 0
    assert c._new_offset(tp) is None
    assert c.seeks == [(tp, 0)], "seeked back to the log start to redeliver 0..3"
    c._acked[tp][:0] = [0, 1, 2, 3]
    assert c._new_offset(tp) == 7


async def test_starts_are_learnt_for_never_committed_partitions_only() -> None:
    from faust.types import TP

    a, b = TP("t", 0), TP("t", 1)

    class _Thread:
        async def earliest_offsets(self, *tps):  # noqa: ANN002, ANN202
            return {a: 0, b: 12}

    c, _ = _bare_consumer(committed=None, acked=[])
    c.__dict__.update(_thread=_Thread(), _starts={a: 3})
    starts = await c._log_starts([a, b])
    c._learn_starts(starts, [b])
    assert c._starts == {b: 12}, "only the never-committed one; the last assignment's go"
    c._learn_starts({}, [a])
    assert c._starts == {a: 0}, "broker away: floor 0"


def test_a_partition_is_stalled_only_with_work_and_no_progress_for_the_whole_window() -> None:
    from faust.types import TP

    from streams.consumer import stalled

    a, b, c = TP("t", 0), TP("t", 1), TP("t", 2)
    progress: dict = {}
    state = {a: ((8, 8), True), b: ((50, 40), True), c: ((9, 9), False)}
    assert stalled(progress, state, now=0.0, stall_s=30) == []
    # b moves on, c has nothing to do, a sits still with records to read
    state = {a: ((8, 8), True), b: ((80, 60), True), c: ((9, 9), False)}
    assert stalled(progress, state, now=20.0, stall_s=30) == []
    assert stalled(progress, state, now=31.0, stall_s=30) == [a]
    assert stalled(progress, state, now=40.0, stall_s=30) == [], "restarted: a new window"
    assert stalled(progress, {b: ((80, 60), True)}, now=41.0, stall_s=30) == []
    assert set(progress) == {b}, "revoked partitions are forgotten"


async def test_work_state_asks_the_broker_only_for_partitions_never_fetched() -> None:
    from collections import defaultdict
    from types import SimpleNamespace

    from faust.types import TP

    fetched, never, idle = TP("in", 0), TP("in", 1), TP("in", 2)
    asked: list = []

    class _Thread:
        def assignment(self):  # noqa: ANN202
            return {fetched, never, idle}

        def highwater(self, tp):  # noqa: ANN001, ANN202
            return {fetched: 120, never: None, idle: 40}[tp]

        async def highwaters(self, *tps):  # noqa: ANN002, ANN202
            asked.extend(tps)
            return {never: 30}

    c, _ = _bare_consumer(committed=None, acked=[])
    c.__dict__.update(
        _thread=_Thread(), _starts={never: 0},
        _committed_offset=defaultdict(lambda: None, {fetched: 100, idle: 40}),
        _unacked_messages={_Msg(fetched, 101)},
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True)),
    )
    state = await c._work_state()
    assert asked == [never]
    assert state[never] == ((None, None), True, 0), "records past its floor, nothing in flight"
    assert state[fetched][1] is False, "its message 101 is in flight"
    assert state[idle][1] is False, "nothing past the committed offset"
