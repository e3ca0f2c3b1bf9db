"""Helpers for tests that run against the live local stack and real ``voc`` subprocesses.

Why one module: the pipeline e2e test, the stack smoke test and the browser tests all need
the same few things (a free port, "is the stack up or fail loudly", bounded polling, a
``voc`` subprocess that is waited for and always stopped), and they must behave the same
everywhere: a missing server is a loud failure, never a skip.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from streams.settings import Settings


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def wait_until(cond: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    """Poll ``cond`` until it returns a truthy value (returned); fail with ``what`` at the
    deadline, showing the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})",
                pytrace=False)


def require_stack(settings: Settings) -> None:
    """Fail the test run unless Kafka and the search engine of ``settings`` answer."""
    kafka_host, _, kafka_port = settings.kafka_bootstrap.split(",")[0].rpartition(":")
    search = settings.search_url.split("//")[-1].split("/")[0]
    s_host, _, s_port = search.rpartition(":")
    missing = [name for name, ok in (
        (f"Kafka {settings.kafka_bootstrap}", port_open(kafka_host, int(kafka_port))),
        (f"search {settings.search_url}", port_open(s_host, int(s_port or 9200))),
    ) if not ok]
    if missing:
        pytest.fail(f"the local stack is not up ({', '.join(missing)} unreachable): "
                    "run `voc stack up` first", pytrace=False)


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` in a Prometheus text exposition whose labels include
    ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


@contextmanager
def voc_process(
    command: str,
    env: Mapping[str, str],
    log_path: Path,
    ready: Callable[[], bool],
    *,
    timeout: float,
    every: float = 0.5,
    stop_grace_s: float = 30,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``voc <command>`` as a real subprocess (its own process group, output to ``log_path``),
    yielded once ``ready()`` is true; a process that exits early fails the test with its
    log. Always stopped afterwards: SIGTERM to the group, SIGKILL after ``stop_grace_s``."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli.main", command], cwd=cwd,
                                env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"voc {command} exited ({proc.returncode}):\n"
                        + log_path.read_text(errors="replace")[-4000:], pytrace=False)
        return ready()

    try:
        wait_until(up, timeout, f"voc {command} to be ready", every=every)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=stop_grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
