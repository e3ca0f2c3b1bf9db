"""SafeConsumer (streams/consumer.py) overrides and reads Faust internals: fail loudly on upgrade.

The methods it overrides are private to faust-streaming and may change in any release; a
changed signature, a hook Faust no longer calls, or a renamed attribute would not raise an
error at run time, it would just silently bring back the lost and stranded messages
SafeConsumer exists to prevent. These shapes were recorded from faust-streaming 0.15.3
(pyproject pins ``>=0.15.3,<0.16``). When this test fails after an upgrade, re-read each
changed method in Faust's source against SafeConsumer's rules before re-recording here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import faust
import faust.transport.consumer as faust_consumer
import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as FaustConsumer

from streams.consumer import SafeConsumer

Shape = tuple[str, tuple[tuple[str, str], ...]]

_POS = "POSITIONAL_OR_KEYWORD"

#: Faust's consumer methods that SafeConsumer overrides (or calls) -> (kind, parameters).
CONSUMER: dict[str, Shape] = {
    "_seek": ("async", (("self", _POS), ("partition", _POS), ("offset", _POS))),
    "seek_wait": ("async", (("self", _POS), ("partitions", _POS))),
    "seek_to_committed": ("async", (("self", _POS),)),
    "on_partitions_revoked": ("async", (("self", _POS), ("revoked", _POS))),
    "_getmany": ("async", (("self", _POS), ("active_partitions", _POS), ("timeout", _POS))),
    "getmany": ("asyncgen", (("self", _POS), ("timeout", _POS))),
    "_add_gap": ("async", (("self", _POS), ("tp", _POS), ("offset_from", _POS),
                           ("offset_to", _POS))),
    "_new_offset": ("sync", (("self", _POS), ("tp", _POS))),
    "ack": ("sync", (("self", _POS), ("message", _POS))),
    "_get_active_partitions": ("sync", (("self", _POS),)),
}

#: Methods of Faust's aiokafka consumer thread that SafeConsumer calls.
THREAD: dict[str, Shape] = {
    "call_thread": ("async", (("self", _POS), ("fun", _POS), ("args", "VAR_POSITIONAL"),
                              ("kwargs", "VAR_KEYWORD"))),
    "seek": ("sync", (("self", _POS), ("partition", _POS), ("offset", _POS))),
    "earliest_offsets": ("async", (("self", _POS), ("partitions", "VAR_POSITIONAL"))),
}

#: Faust's private consumer state that SafeConsumer reads or changes.
STATE = ("_read_offset", "_committed_offset", "_acked", "_acked_index", "_unacked_messages",
         "_paused_partitions", "_buffered_partitions", "_thread")

#: Hooks SafeConsumer relies on Faust itself calling (not only SafeConsumer).
CALLED_BY_FAUST = ("_add_gap", "_new_offset", "_getmany", "on_partitions_revoked",
                   "seek_to_committed", "seek_wait")


def _shape(fn: Callable[..., Any]) -> Shape:
    kind = ("asyncgen" if inspect.isasyncgenfunction(fn)
            else "async" if inspect.iscoroutinefunction(fn) else "sync")
    params = tuple((p.name, p.kind.name) for p in inspect.signature(fn).parameters.values())
    return kind, params


def _faust_says(changed: str) -> str:
    return (f"faust-streaming {version('faust-streaming')} changed {changed}, which "
            "streams/consumer.py (SafeConsumer) depends on: review it before upgrading")


#: Each Faust class whose privates are recorded above, with its record.
RECORDED: tuple[tuple[type, dict[str, Shape]], ...] = (
    (FaustConsumer, CONSUMER), (AIOKafkaConsumerThread, THREAD))


@pytest.mark.parametrize(("cls", "name", "shape"), [
    pytest.param(cls, name, shape, id=f"{cls.__name__}.{name}")
    for cls, recorded in RECORDED for name, shape in sorted(recorded.items())])
def test_faust_privates_keep_their_signatures(cls: type, name: str, shape: Shape) -> None:
    original = getattr(cls, name, None)
    assert original is not None, _faust_says(f"{cls.__name__}.{name} (gone)")
    sig = inspect.signature(original)
    assert _shape(original) == shape, _faust_says(f"{cls.__name__}.{name}{sig}")


def test_safe_consumer_overrides_match_the_originals() -> None:
    """Each override takes exactly what Faust passes it (and nothing was overridden that is
    not recorded above, so a new override cannot slip past this test)."""
    faust_names = {n for cls in FaustConsumer.__mro__ for n in vars(cls)}
    overrides = {n for n, v in vars(SafeConsumer).items()
                 if callable(v) and n in faust_names and n != "__init__"}
    assert overrides <= set(CONSUMER), f"record these in CONSUMER: {overrides - set(CONSUMER)}"
    for name in overrides:
        assert _shape(vars(SafeConsumer)[name]) == CONSUMER[name], name


def test_safe_consumer_own_names_do_not_collide_with_faust() -> None:
    """SafeConsumer's own helpers and state must not shadow something a later Faust adds."""
    faust_source = inspect.getsource(faust_consumer) + inspect.getsource(
        inspect.getmodule(FaustConsumer))  # type: ignore[arg-type]
    faust_names = {n for cls in FaustConsumer.__mro__ for n in vars(cls)}
    own_methods = {n for n, v in vars(SafeConsumer).items()
                   if callable(v) and n not in CONSUMER and not n.startswith("__")}
    own_state = set(_assigned_in_init(SafeConsumer))
    for name in own_methods | own_state:
        assert name not in faust_names and f"self.{name} " not in faust_source, _faust_says(
            f"the meaning of {name} (now also a Faust name)")


def _assigned_in_init(cls: type) -> list[str]:
    src = inspect.getsource(cls.__init__)  # type: ignore[misc]
    return [line.split("self.", 1)[1].split(" ", 1)[0].split(":")[0]
            for line in src.splitlines() if line.strip().startswith("self.") and "=" in line]


@pytest.mark.parametrize("name", STATE)
def test_faust_consumer_state_safe_consumer_reads_still_exists(name: str) -> None:
    src = inspect.getsource(faust_consumer)
    assert f"self.{name} =" in src or f"self.{name}:" in src, _faust_says(f"state {name}")


def _faust_sources() -> str:
    root = Path(faust.__file__).parent
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py")))


@pytest.mark.parametrize("name", CALLED_BY_FAUST)
def test_faust_still_calls_the_hooks_safe_consumer_overrides(name: str) -> None:
    assert f".{name}(" in _faust_sources(), _faust_says(f"when it calls {name} (no call left)")


def test_tables_still_find_their_event_through_the_context_variable_the_state_agent_sets() -> None:
    """``streams.agents._as_current`` sets ``faust.streams._current_event`` around each table
    write of a ``noack_take`` batch, so the follow-up table's changelog goes to that event's
    partition: it relies on that private ContextVar and on tables calling ``current_event()``."""
    import contextvars
    import weakref

    import faust.streams as faust_streams

    var = getattr(faust_streams, "_current_event", None)
    assert isinstance(var, contextvars.ContextVar), _faust_says("streams._current_event")

    class Event:  # anything weak-referenceable stands in for an event here
        pass

    event = Event()
    token = var.set(weakref.ref(event))
    try:
        assert faust_streams.current_event() is event, _faust_says("current_event()")
    finally:
        var.reset(token)
    tables = (Path(faust.__file__).parent / "tables" / "base.py").read_text(encoding="utf-8")
    assert "current_event()" in tables, _faust_says("how a table finds its event")


def test_streams_track_what_they_hand_on_and_never_what_they_skip() -> None:
    """``SafeConsumer.ack`` (rule 7) counts an ack only for a tracked message: Faust's
    ``Stream`` sets ``message.tracked`` for each message it hands on, after the rebalance
    skip (flow control off, old generation) whose ack it must refuse."""
    from faust.types.tuples import ConsumerMessage

    assert ConsumerMessage.use_tracking, _faust_says("ConsumerMessage.use_tracking")
    src = (Path(faust.__file__).parent / "streams.py").read_text(encoding="utf-8")
    skip = src.find("message.generation_id != self.app.consumer_generation_id")
    track = src.find("message.tracked = True")
    skipped_ack = src.find("(do_ack or value is skipped_value)")
    assert -1 < skip < track < skipped_ack, _faust_says("when a stream tracks a message")
