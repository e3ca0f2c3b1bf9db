"""The one retry policy: one backoff function, built from Settings, safe to run forever."""

from __future__ import annotations

from pathlib import Path

from streams.retry import RetryPolicy, backoff_delay
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_backoff_is_jittered_below_its_cap_even_after_days_of_retries() -> None:
    for attempt in (0, 1, 5, 1_000, 10_000):  # 2**1024 would overflow a float
        assert 0.0 <= backoff_delay(attempt, 0.5, 30.0) <= min(30.0, 0.5 * 2 ** min(attempt, 30))
    assert 0.0 <= RetryPolicy().delay(5_000) <= 30.0


def test_the_sink_policy_comes_from_settings() -> None:
    s = Settings(search_retry_attempts=3, search_retry_base_s=0.1, search_retry_max_s=2.0)
    policy = RetryPolicy.from_settings(s)
    assert policy == RetryPolicy(max_attempts=3, base_s=0.1, max_s=2.0)
    assert policy.gives_up_after(3) and not policy.forever().gives_up_after(10_000)
    assert policy.forever().max_s == 2.0


def _writes(needle: str) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{n}"
            for p in sorted((ROOT / "streams").rglob("*.py"))
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
            if needle in line]


def test_search_up_has_one_writer_and_jitter_one_function() -> None:
    writers = _writes("search_up.set(")
    assert len(writers) == 1 and writers[0].startswith("streams/search/base.py:"), writers
    assert [w.rsplit(":", 1)[0] for w in _writes("random.uniform(")] == ["streams/retry.py"]
