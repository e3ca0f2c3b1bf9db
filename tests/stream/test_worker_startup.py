"""The worker freezes its start-up objects, so full collections skip the model's heap."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.cli.pipeline_cmd import freeze_startup_objects


@pytest.fixture
def unfreeze_after() -> Iterator[None]:
    gc.disable()  # no automatic collection in the middle of a test
    yield
    gc.enable()
    gc.unfreeze()


def _tracked(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_objects_alive_at_start_up_leave_the_collectors_reach(unfreeze_after: None) -> None:
    model_like = {"weights": [[0.0] * 4 for _ in range(3)]}
    assert _tracked(model_like)

    frozen = freeze_startup_objects()

    assert frozen == gc.get_freeze_count() > 0
    assert not _tracked(model_like)
    made_later = {"batch": [1, 2, 3]}
    assert _tracked(made_later)  # what the stream allocates is still collected


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_start_up_garbage_is_collected_not_frozen(unfreeze_after: None) -> None:
    node = _Node()
    ref = weakref.ref(node)
    del node
    assert ref() is not None  # unreachable, but waiting for a collection

    freeze_startup_objects()

    assert ref() is None  # collected first: frozen, it would have leaked for good
