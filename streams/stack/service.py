"""One local server of the stack: how to prepare, start, check and stop it.

Each concrete service (Kafka, OpenSearch, Prometheus, Alertmanager) says how to
fetch or install itself, the command that runs it and what "healthy" means; the
shared logic here keeps ``up`` idempotent and ``down`` limited to our own PIDs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from streams.settings import Settings
from streams.stack import process
from streams.stack.process import StackError

#: the repository's deploy/ through the link streams/deploy, which the wheel carries as a
#: copy: the stack's configs are found in a checkout and in a pip install alike
DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy"


@dataclass(frozen=True)
class ServiceStatus:
    """What ``voc stack status`` prints for one service."""

    name: str
    state: str  # up | unhealthy | down | foreign
    pid: int | None
    address: str
    log_file: Path
    rss_bytes: int = 0


class Service(ABC):
    """A server that ``voc stack`` manages by PID file."""

    name: str = ""
    #: a string that must appear in the process's command line for its PID to count as ours
    marker: str = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stack = settings.stack

    # --- locations -------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return Path(self.stack.state_dir) / self.name

    @property
    def cache_dir(self) -> Path:
        return Path(self.stack.cache_dir)

    @property
    def pid_file(self) -> Path:
        return Path(self.stack.state_dir) / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return Path(self.stack.state_dir) / "logs" / f"{self.name}.log"

    # --- what each service defines ---------------------------------------------------------
    @property
    @abstractmethod
    def port(self) -> int:
        """The main port; used to detect a server that is not ours."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def prepare(self) -> None:
        """Fetch, install or configure what the service needs (may be slow the first time)."""
        return None

    @abstractmethod
    def argv(self) -> list[str]:
        """The command that runs the server in the foreground."""

    def env(self) -> dict[str, str]:
        return {}

    @abstractmethod
    def healthy(self) -> bool:
        """A quick check that the server answers requests."""

    # --- shared behaviour ------------------------------------------------------------------
    def pid(self) -> int | None:
        return process.read_pid(self.pid_file, self.marker)

    def status(self) -> ServiceStatus:
        pid = self.pid()
        if pid is not None:
            state = "up" if self.healthy() else "unhealthy"
        elif process.port_open("127.0.0.1", self.port):
            state = "foreign"
        else:
            state = "down"
        rss = process.rss_bytes(pid) if pid else 0
        return ServiceStatus(self.name, state, pid, self.address, self.log_file, rss)

    def free_port(self) -> None:
        """Make room on our port; by default someone else's server there is an error."""
        if process.port_open("127.0.0.1", self.port):
            raise StackError(
                f"{self.name}: port {self.port} is in use by a process voc did not start; "
                f"stop it or change the port setting"
            )

    def start(self) -> bool:
        """Start the server unless ours already runs; True if a new process was started."""
        if self.pid() is not None:
            return False
        self.free_port()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        process.start_detached(
            self.argv(), self.log_file, self.pid_file, env=self.env(), cwd=self.state_dir
        )
        return True

    def wait_healthy(self, timeout_s: float | None = None) -> None:
        timeout = self.stack.startup_timeout_s if timeout_s is None else timeout_s
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        misses = 0

        def alive() -> bool:
            # during startup the recorded PID itself is the truth (its command line may be
            # briefly unreadable); two misses in a row mean it really exited
            nonlocal misses
            ok = pid is not None and Path(f"/proc/{pid}").exists() and not process.is_zombie(pid)
            misses = 0 if ok else misses + 1
            return misses < 2

        process.wait_for(self.healthy, timeout, self.name, alive=alive, log_file=self.log_file)

    def reload(self) -> None:
        """Apply a re-rendered config to the running server (default: nothing to do)."""
        return None

    def stop(self) -> bool:
        """Stop our process (by PID file); True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        if not process.stop_pid(pid, self.marker):
            raise StackError(f"{self.name} (pid {pid}) did not exit after SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        return True
