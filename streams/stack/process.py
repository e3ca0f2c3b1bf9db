"""Process plumbing for the local stack: PID files, detached starts, health polling.

``up`` must be idempotent and ``down`` must stop only what ``up`` started, so every
service we launch gets a PID file, and a PID only counts as ours while its command
line still contains the service's marker (PIDs are reused by the kernel).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A one-line, user-facing reason why the stack cannot do what was asked."""


def cmdline(pid: int) -> str:
    """The process's command line ('' if it is gone), to tell our process from a reused PID."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_zombie(pid: int) -> bool:
    """A zombie has exited; it only waits for its parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def read_pid(pid_file: Path, marker: str) -> int | None:
    """The live PID recorded in ``pid_file`` whose command line contains ``marker``."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if marker in cmdline(pid) and not is_zombie(pid):
        return pid
    return None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether GET url answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (local URL)
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_detached(
    argv: Sequence[str],
    log_file: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start argv in its own session (it outlives ``voc``), output appended to log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 (argv built by us)
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def stop_pid(pid: int, marker: str, timeout_s: float = 60.0) -> bool:
    """SIGTERM the process (if it is still ours), wait, then SIGKILL; True once it is gone."""
    if marker not in cmdline(pid):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if marker not in cmdline(pid) or is_zombie(pid):
            _reap(pid)
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if marker not in cmdline(pid) or is_zombie(pid):
            _reap(pid)
            return True
        time.sleep(0.1)
    return False


def _reap(pid: int) -> None:
    """Collect the exit status if the process was our child (tests start services in-process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_for(
    check: Callable[[], bool],
    timeout_s: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    log_file: Path | None = None,
) -> None:
    """Poll ``check`` until true; fail early (with the log's tail) if the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise StackError(f"{what} exited during startup{_tail_hint(log_file)}")
        time.sleep(0.5)
    raise StackError(f"{what} not healthy after {timeout_s:.0f}s{_tail_hint(log_file)}")


def _tail_hint(log_file: Path | None, lines: int = 15) -> str:
    if log_file is None or not log_file.exists():
        return ""
    tail = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f"; see {log_file}. Last lines:\n" + "\n".join(tail)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (for the stack's status and the closing note)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
