"""The per-message budget: one message's text work may cost so much, and no more.

Why: parsing and cleaning a message are pure CPU work whose cost depends on the bytes an
outsider sent. One hostile record (a 96 KB run of zero-width joiners, 40 k digits for
the e-mail pattern) once took 14-24 s, and it ran on the event loop, so ``/health`` and
the Kafka heartbeats stopped answering and the record was read again after every restart.
Here the costly steps of each message (``costly_steps``: parse, normalize, redact) are
measured one message at a time, off the event loop, and a message over budget is
dead-lettered with reason ``too_costly`` - never retried: it would cost the same again.

Two runners, one contract (``MessageSteps``):

* ``IsolatedSteps`` (the worker): the steps run in a child process. A message whose CPU
  time passes ``message_budget_s`` is too costly; one still running after
  ``message_budget_wall_s`` is cut off there and then (the child is killed and a fresh
  one forked), so a pathological pattern costs at most that long whatever the input is.
  A thread cannot be stopped in the middle of a regular expression; a process can.
* ``InlineSteps`` (handler tests, benchmarks): the same steps and the same CPU rule in the
  caller's thread, with no cut-off - the cost is only known once the step returns.

The enricher then repeats normalize and redact for the messages that passed (in the
enrichment thread): the cost of a message is bounded by the budget before the encoder
sees it, and the enricher's own input stays the parsed record.
"""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from processors.normalize import normalize
from processors.redact import redact
from streams.deadletter import describe_error
from streams.types import Inbound, ParseInbound, Source

log = logging.getLogger(__name__)

TOO_COSTLY = "too_costly"
READY = "ready"
#: How long a fresh child may take to start (the first one also starts the fork server).
START_TIMEOUT_S = 120.0
#: How often the parent looks at the child's progress while a batch runs.
POLL_S = 0.1

Step = Callable[[bytes, Source], Inbound]
"""One message's costly work: its bytes to a record, or an error with a ``reason``."""


def costly_steps(raw: bytes, source: Source, *, parse: ParseInbound, max_text_chars: int
                 ) -> Inbound:
    """Parse, then the text steps the enricher runs first (normalize, redact): every step
    whose cost depends on the bytes an outsider sent, before the encoder's bounded input."""
    record = parse(raw, source)
    redact(normalize(record, max_text_chars).text)
    return record


def worker_step(parse: ParseInbound, max_text_chars: int) -> Step:
    """The worker's ``Step``: picklable, so it can run in the child process."""
    return functools.partial(costly_steps, parse=parse, max_text_chars=max_text_chars)


@dataclass(frozen=True)
class Parsed:
    record: Inbound
    cpu_s: float


@dataclass(frozen=True)
class Rejected:
    """Bad input (``reason`` from the parser, e.g. invalid_json) or ``too_costly``."""

    reason: str
    detail: str
    cpu_s: float


Outcome = Parsed | Rejected


class MessageSteps(Protocol):
    """Runs ``Step`` over a batch, one message at a time, within the budget. Blocking: call
    it from the enrichment thread, never on the event loop."""

    def start(self) -> None:
        """Get ready before the first message (so no message pays for start-up)."""
        ...

    def run(self, items: Sequence[tuple[bytes, Source]]) -> list[Outcome]: ...

    def close(self) -> None: ...


def _attempt(step: Step, raw: bytes, source: Source, budget_s: float,
             clock: Callable[[], float]) -> Outcome:
    started = clock()
    try:
        record = step(raw, source)
    except Exception as exc:
        spent = clock() - started
        if spent > budget_s:
            return _too_costly(spent, budget_s)
        reason = getattr(exc, "reason", None) or "invalid_input"
        return Rejected(str(reason), describe_error(exc), spent)
    spent = clock() - started
    if spent > budget_s:
        return _too_costly(spent, budget_s)
    return Parsed(record, spent)


def _too_costly(spent: float, budget_s: float, how: str = "CPU") -> Rejected:
    return Rejected(TOO_COSTLY, f"{how} {spent:.3f}s over the per-message budget of "
                    f"{budget_s:.3f}s (VOC_MESSAGE_BUDGET_S)", spent)


class InlineSteps:
    """The steps in the caller's thread, measured by that thread's CPU clock."""

    def __init__(self, step: Step, budget_s: float) -> None:
        self.step = step
        self.budget_s = budget_s

    def start(self) -> None:
        return None

    def run(self, items: Sequence[tuple[bytes, Source]]) -> list[Outcome]:
        return [_attempt(self.step, raw, source, self.budget_s, time.thread_time)
                for raw, source in items]

    def close(self) -> None:
        return None


@dataclass
class _Progress:
    """Shared with the child: which message of the batch it is on, since when (the
    system-wide monotonic clock), so the parent wakes once per batch, not per message."""

    index: Any  # multiprocessing.Value("i"): -1 between batches
    since: Any  # multiprocessing.Value("d")


def _child_loop(conn: Connection, step: Step, budget_s: float, wall_s: float,
                progress: _Progress) -> None:
    """The child process: a batch in, its outcomes out in one piece, until told to stop.

    SIGTERM and SIGINT (a supervisor or a terminal signalling the worker's whole process
    group) end the child only between batches: a batch in hand is finished and sent first,
    so shutting the worker down never makes an ordinary message look too costly. A batch
    still running ``wall_s`` after the signal is ended by the kernel (SIGALRM's default
    action, which needs no Python code to run), so a hostile message never holds up the
    worker's exit."""
    state = {"busy": False, "stop": False}

    def on_signal(signum: int, frame: object) -> None:
        if not state["busy"]:
            raise SystemExit(0)
        state["stop"] = True
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(math.ceil(wall_s) + 1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    conn.send(READY)
    while True:
        try:
            batch = conn.recv()
        except EOFError:
            return
        if batch is None:
            return
        state["busy"] = True
        outcomes = []
        for i, (raw, source) in enumerate(batch):
            progress.since.value = time.monotonic()
            progress.index.value = i
            outcomes.append(_attempt(step, raw, source, budget_s, time.process_time))
        progress.index.value = -1
        conn.send(outcomes)
        state["busy"] = False
        if state["stop"]:
            return


class IsolatedSteps:
    """The steps in a child process (``forkserver``: forked from a clean, single-threaded
    server, never from the worker's threads), with a hard wall-clock cut-off per message."""

    def __init__(self, step: Step, budget_s: float, wall_s: float) -> None:
        self.step = step
        self.budget_s = budget_s
        self.wall_s = max(wall_s, budget_s)
        self._ctx = multiprocessing.get_context("forkserver")
        # the fork server imports the main module, this one and the steps' once; each child
        # is a fork of it and imports nothing more
        self._ctx.set_forkserver_preload(["__main__", __name__, "processors.pipeline"])
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._progress: _Progress | None = None
        self.restarts = 0

    def start(self) -> None:
        self._ensure()

    def _ensure(self) -> tuple[Connection, _Progress]:
        if (self._conn is None or self._proc is None or self._progress is None
                or not self._proc.is_alive()):
            self._stop()
            parent, child = self._ctx.Pipe()
            progress = _Progress(self._ctx.Value("i", -1, lock=False),
                                 self._ctx.Value("d", 0.0, lock=False))
            proc = self._ctx.Process(target=_child_loop,
                                     args=(child, self.step, self.budget_s, self.wall_s,
                                           progress),
                                     name="voc-message-steps", daemon=True)
            proc.start()
            child.close()
            self._proc, self._conn, self._progress = proc, parent, progress
            # started and imported before any message's clock runs
            if not parent.poll(START_TIMEOUT_S) or parent.recv() != READY:
                self._stop()
                raise RuntimeError("the message step process did not start")
        return self._conn, self._progress

    def run(self, items: Sequence[tuple[bytes, Source]]) -> list[Outcome]:
        """The batch goes to the child in one piece and comes back in one piece. While it
        runs, the parent checks every ``POLL_S`` how long the current message has taken:
        one past ``wall_s`` is cut off (the child killed), and the rest of the batch, the
        messages before it included, goes to a fresh child. A child that dies on a message
        (killed for memory, a crash) makes that message too costly; one that ended cleanly
        (a signal between batches) is replaced and the batch sent again. If no child can
        be started at all, the batch runs inline (measured, not cut off) rather than be
        lost or parked for a fault of the host."""
        results: dict[int, Outcome] = {}
        todo = list(range(len(items)))
        clean_exits = 0
        while todo:
            try:
                conn, progress = self._ensure()
            except (RuntimeError, OSError) as exc:
                log.error("no message step process (%s): this batch runs inline", exc)
                inline = InlineSteps(self.step, self.budget_s).run([items[j] for j in todo])
                results.update(zip(todo, inline, strict=True))
                break
            try:
                progress.index.value = -1
                conn.send([items[j] for j in todo])
                got = self._wait(conn, progress)
            except (EOFError, OSError) as exc:
                k = progress.index.value
                code = self._proc.exitcode if self._proc is not None else None
                self._stop()
                if code == 0 and clean_exits < 3:  # stopped by a signal: not the message
                    clean_exits += 1
                    continue
                k = max(0, k)
                log.error("message step process died (exit code %s, %s)", code,
                          type(exc).__name__)
                results[todo[k]] = Rejected(TOO_COSTLY, f"the message's steps ended their "
                                            f"process (exit code {code})", 0.0)
                del todo[k]
                continue
            if isinstance(got, list):
                results.update(zip(todo, got, strict=True))
                todo = []
            else:
                k, spent = got
                results[todo[k]] = self._cut_off(spent)
                del todo[k]
        return [results[i] for i in range(len(items))]

    def _wait(self, conn: Connection, progress: _Progress) -> list[Outcome] | tuple[int, float]:
        """The batch's outcomes, or (index in the batch, seconds) of a message cut off."""
        while True:
            if conn.poll(min(POLL_S, self.wall_s)):
                outcomes: list[Outcome] = conn.recv()
                return outcomes
            k = progress.index.value
            spent = time.monotonic() - progress.since.value
            if k >= 0 and spent > self.wall_s:
                return k, spent
            if self._proc is not None and not self._proc.is_alive():
                self._proc.join(1.0)  # its exit code
                raise EOFError("the message step process is gone")

    def _cut_off(self, spent: float) -> Rejected:
        log.warning("message over its budget: cut off after %.3fs", spent)
        self._stop()
        self.restarts += 1
        return Rejected(TOO_COSTLY, f"cut off after {spent:.3f}s, past the per-message "
                        f"limit of {self.wall_s:.3f}s (VOC_MESSAGE_BUDGET_WALL_S)", spent)

    def _stop(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = self._progress = None
        if conn is not None:
            conn.close()
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(5.0)

    def close(self) -> None:
        """Ask the child to stop (shutdown); killed if it does not."""
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(2.0)
            except OSError:
                pass
        self._stop()
