"""The one retry policy: exponential backoff with full jitter, and the loop that applies it.

Why one: the producer, the search sink, the index handler and the worker's start-up all
wait out the same kind of outage; one backoff function and one policy type (built from
``Settings``) keep them behaving alike and tunable in one place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from streams.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# 2**30 x any base is far past any cap; clamping keeps a retry-forever loop from
# overflowing a float after ~1,000 attempts.
_MAX_EXPONENT = 30


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Sleep before retry ``attempt`` (0-based): uniform in [0, min(cap, base * 2**attempt)].

    Full jitter (AWS style): many workers retrying at once never move as a herd.
    """
    return random.uniform(0.0, min(cap, base * (2 ** min(max(attempt, 0), _MAX_EXPONENT))))


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying and how to wait in between; ``max_attempts=0`` = forever."""

    max_attempts: int = 0
    base_s: float = 0.5
    max_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The search sink's policy (``VOC_SEARCH_RETRY_*``)."""
        return cls(max_attempts=settings.search_retry_attempts,
                   base_s=settings.search_retry_base_s, max_s=settings.search_retry_max_s)

    def forever(self) -> RetryPolicy:
        """The same waits without a limit: for loops that must never drop their work."""
        return dataclasses.replace(self, max_attempts=0)

    def delay(self, attempt: int) -> float:
        """Sleep before retry number ``attempt`` (1-based)."""
        return backoff_delay(attempt - 1, self.base_s, self.max_s)

    def gives_up_after(self, attempt: int) -> bool:
        return self.max_attempts > 0 and attempt >= self.max_attempts


async def retry(
    fn: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    is_retryable: Callable[[BaseException], bool],
    on_retry: Callable[[int, BaseException], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Call ``fn`` until it succeeds, retrying only retryable errors with backoff + jitter.

    Non-retryable errors propagate at once; when the policy's attempts are spent the last
    retryable error propagates. ``on_failure`` sees every failed call (retried or not),
    ``on_retry`` only those about to be retried. With ``max_attempts=0`` this blocks until
    the call succeeds, which is what the index agent wants: stop consuming rather than drop.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await fn()
        except Exception as exc:
            if on_failure is not None:
                on_failure(exc)
            if not is_retryable(exc) or policy.gives_up_after(attempt):
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            delay = policy.delay(attempt)
            log.warning("call failed (attempt %d, retry in %.2fs): %s", attempt, delay,
                        short_error(exc))
            await sleep(delay)


def short_error(exc: BaseException, limit: int = 300) -> str:
    """``Type: message``, cut to ``limit`` characters (for logs and health bodies)."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[:limit] + "…"
