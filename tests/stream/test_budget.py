"""The per-message budget: a message over it is ``too_costly``, the others go on.

The isolated runner is tested with a real child process, and with the real parser on a
hostile input that cost seconds before the normalizer was fixed (a run of zero-width
joiners): whatever the steps cost, the runner gives it up at its wall limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from processors.pipeline import parse_inbound
from streams.budget import (
    TOO_COSTLY,
    InlineSteps,
    IsolatedSteps,
    Parsed,
    Rejected,
    worker_step,
)
from streams.handlers.enrich import EnrichHandler
from tests.stream.conftest import SOURCES, FakeEnricher, event, parse, run_now, sms


def burn(raw: bytes, source: str) -> object:
    """Spins when the message says so (forever for "hang"), else parses it."""
    if raw == b"hang":
        while True:
            pass
    if raw.startswith(b"spin:"):
        end = time.process_time() + float(raw[5:])
        while time.process_time() < end:
            pass
    return parse(raw, source)


@pytest.fixture
def isolated() -> Iterator[IsolatedSteps]:
    steps = IsolatedSteps(burn, budget_s=0.2, wall_s=3.0)
    steps.start()
    yield steps
    steps.close()


def test_inline_steps_measure_each_message() -> None:
    steps = InlineSteps(burn, budget_s=0.2)
    good, slow, bad = steps.run([(sms("SM1"), "sms"), (b"spin:0.3", "sms"), (b"{x", "sms")])
    assert isinstance(good, Parsed) and good.record.message_id == "SM1"
    assert isinstance(slow, Rejected) and slow.reason == TOO_COSTLY
    assert "VOC_MESSAGE_BUDGET_S" in slow.detail
    assert isinstance(bad, Rejected) and bad.reason == "invalid_json"


def test_a_hung_message_is_cut_off_and_the_batch_goes_on(isolated: IsolatedSteps) -> None:
    items = [(sms("SM1"), "sms"), (b"hang", "sms"), (b"spin:0.3", "sms"), (sms("SM2"), "sms")]
    first, hung, slow, last = isolated.run(items)
    assert isinstance(first, Parsed) and isinstance(last, Parsed)
    assert last.record.message_id == "SM2"  # read by the fresh child
    assert isinstance(hung, Rejected) and hung.reason == TOO_COSTLY
    assert "VOC_MESSAGE_BUDGET_WALL_S" in hung.detail
    assert isinstance(slow, Rejected) and slow.reason == TOO_COSTLY  # over the CPU budget
    assert isolated.restarts == 1


def test_the_real_parser_on_a_hostile_message_is_cut_off() -> None:
    """96 KB of zero-width joiners in an SMS body; the real parse, normalize and redact."""
    hostile = json.dumps({"message_id": "SM-ZWJ", "from": "+447700900123",
                          "body": "a" + "\u200d" * 32_000 + "b", "brand": "acme",
                          "received_at": "2026-11-25T18:00:00Z"}, ensure_ascii=False).encode()
    steps = IsolatedSteps(worker_step(parse_inbound, 5000), budget_s=0.05, wall_s=1.0)
    try:
        steps.start()
        digits = json.dumps({"message_id": "SM-DIG", "from": "+447700900123",
                             "body": "mail " + "1" * 40_000 + "@", "brand": "acme",
                             "received_at": "2026-11-25T18:00:00Z"}).encode()
        worst = [hostile, digits]  # and a long digit run for the e-mail pattern
        outcomes = steps.run([(w, "sms") for w in worst] + [(sms("SM3"), "sms")])
    finally:
        steps.close()
    for o in outcomes[:2]:  # too costly, or (once redaction is linear) simply parsed
        assert isinstance(o, Parsed) or o.reason == TOO_COSTLY
        if isinstance(o, Parsed):
            assert o.cpu_s <= 0.05
    assert isinstance(outcomes[2], Parsed) and outcomes[2].record.message_id == "SM3"


async def test_the_handler_dead_letters_too_costly_messages(metrics) -> None:  # type: ignore[no-untyped-def]
    steps = InlineSteps(burn, budget_s=0.2)
    handler = EnrichHandler(enricher=FakeEnricher(), parse=parse, sources=SOURCES,
                            metrics=metrics, run_sync=run_now, steps=steps)
    out = await handler.handle([event(sms("SM1")), event(b"spin:0.3", offset=1)])
    (dl,) = [json.loads(r.value) for r in out.for_topic("deadletter")]
    assert dl["reason"] == TOO_COSTLY and dl["offset"] == 1
    assert len(out.for_topic("enriched")) == 1
    assert metrics.value("voc_deadletter_total", {"reason": TOO_COSTLY}) == 1
    assert metrics.value("voc_message_cost_seconds_count") == 2


def test_sigterm_to_the_process_group_never_makes_a_message_too_costly() -> None:
    """A supervisor signalling the worker's group reaches the child too: it finishes the
    batch in hand (or, idle, just ends), and the next batch goes to a fresh child."""
    import os
    import signal

    steps = IsolatedSteps(burn, budget_s=1.0, wall_s=5.0)
    try:
        steps.start()
        proc = steps._proc
        assert proc is not None and proc.pid is not None
        os.kill(proc.pid, signal.SIGTERM)  # idle: it ends cleanly
        proc.join(10)
        assert proc.exitcode == 0
        (first,) = steps.run([(sms("SM1"), "sms")])
        assert isinstance(first, Parsed)
        busy = steps._proc
        assert busy is not None and busy.pid is not None

        def term_soon() -> None:
            time.sleep(0.1)
            os.kill(busy.pid, signal.SIGTERM)  # type: ignore[arg-type]

        import threading

        threading.Thread(target=term_soon).start()
        outcomes = steps.run([(b"spin:0.5", "sms"), (sms("SM2"), "sms")])
        assert isinstance(outcomes[1], Parsed)  # the batch in hand was finished and sent
        # the spinning message ran to its end (within budget; then "not JSON"), not cut off
        assert isinstance(outcomes[0], Rejected) and outcomes[0].reason == "invalid_json"
        busy.join(10)
        assert busy.exitcode == 0
    finally:
        steps.close()


def test_without_a_child_process_the_batch_runs_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = IsolatedSteps(burn, budget_s=0.2, wall_s=1.0)

    def cannot_start() -> None:
        raise RuntimeError("the message step process did not start")

    monkeypatch.setattr(steps, "_ensure", cannot_start)
    good, slow = steps.run([(sms("SM1"), "sms"), (b"spin:0.3", "sms")])
    assert isinstance(good, Parsed)
    assert isinstance(slow, Rejected) and slow.reason == TOO_COSTLY
