"""OrderedBatches: batches work concurrently, finish in order, bounded, never stall."""

from __future__ import annotations

import asyncio

from streams.agents.common import OrderedBatches


async def test_finishes_in_submission_order_while_work_overlaps() -> None:
    pipeline = OrderedBatches(depth=2)
    running, peak, finished = 0, 0, []

    async def work(i: int, seconds: float) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(seconds)
        running -= 1
        return i

    async def finish(i: int) -> None:
        finished.append(i)

    # the first batch is the slowest: later ones must wait for it before finishing
    for i, seconds in enumerate([0.05, 0.01, 0.01, 0.02]):
        await pipeline.submit(lambda i=i, s=seconds: work(i, s), finish)
    await pipeline.drain()
    assert finished == [0, 1, 2, 3]
    assert peak == 2, "two batches in work at once, never more than depth"


async def test_submit_waits_while_depth_batches_are_unfinished() -> None:
    pipeline = OrderedBatches(depth=1)
    gate = asyncio.Event()

    async def blocked() -> str:
        await gate.wait()
        return "a"

    async def nothing(_: object) -> None:
        return None

    await pipeline.submit(blocked, nothing)
    second = asyncio.ensure_future(pipeline.submit(lambda: asyncio.sleep(0, "b"), nothing))
    await asyncio.sleep(0.02)
    assert not second.done(), "backpressure: the second batch waits for a free slot"
    gate.set()
    await asyncio.wait_for(second, 1.0)
    await pipeline.drain()


async def test_a_failing_finish_does_not_stall_later_batches() -> None:
    pipeline = OrderedBatches(depth=2)
    finished: list[int] = []

    async def finish(i: int) -> None:
        if i == 0:
            raise RuntimeError("publish bug")
        finished.append(i)

    for i in range(3):
        await pipeline.submit(lambda i=i: asyncio.sleep(0, i), finish)
    await asyncio.wait_for(pipeline.drain(), 1.0)
    assert finished == [1, 2]
    await pipeline.close()
