"""Prometheus and Alertmanager from Debian's packages, run with our own config.

Installing the Debian packages may start their own daemons (as user prometheus, on
the same ports): ``up`` stops those, then runs ours on 127.0.0.1 with data under the
state directory, so alert rules from ``deploy/prometheus/`` and the worker's
``/metrics`` are what gets evaluated and scraped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from string import Template

from streams.stack import process
from streams.stack.process import StackError
from streams.stack.service import DEPLOY_DIR, Service

_PACKAGES = ["prometheus", "prometheus-alertmanager"]


def ensure_installed(binary: str) -> str:
    """The binary's path; install Debian's packages first when we are root and it is missing."""
    found = shutil.which(binary)
    if found:
        return found
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        raise StackError(
            f"{binary} not found: install it (apt-get install {' '.join(_PACKAGES)})"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        [apt, "update", "-qq"],
        [apt, "install", "-y", "-q", "--no-install-recommends", *_PACKAGES],
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)  # noqa: S603
        if proc.returncode != 0:
            raise StackError(f"{' '.join(argv)} failed: {proc.stderr.strip()[-300:]}")
    for pkg in _PACKAGES:
        _stop_debian_daemon(pkg)
    found = shutil.which(binary)
    if not found:
        raise StackError(f"{binary} still not found after installing {' '.join(_PACKAGES)}")
    return found


def _stop_debian_daemon(pkg: str) -> None:
    """Stop (and disable where systemd runs) the daemon Debian's package started."""
    if Path("/run/systemd/system").exists() and shutil.which("systemctl"):
        subprocess.run(["systemctl", "disable", "--now", pkg], capture_output=True, check=False)  # noqa: S603,S607
    elif shutil.which("service"):
        subprocess.run(["service", pkg, "stop"], capture_output=True, check=False)  # noqa: S603,S607


def _foreign_pids(binary: str, marker: str) -> list[int]:
    """PIDs running ``binary`` that are not ours (no ``marker`` in their command line)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        cmd = process.cmdline(int(entry.name))
        if cmd.split(" ", 1)[0] == binary and marker not in cmd:
            pids.append(int(entry.name))
    return pids


class _DebianService(Service):
    """Shared behaviour: binary from Debian, config rendered from ``deploy/local``."""

    binary_name = ""
    package = ""
    template = ""

    @property
    def config_file(self) -> Path:
        return self.state_dir / self.template

    @property
    def marker(self) -> str:  # type: ignore[override]
        return str(self.config_file)

    def binary(self) -> str:
        return ensure_installed(self.binary_name)

    def template_vars(self) -> dict[str, str]:
        return {
            "prometheus_port": str(self.stack.prometheus_port),
            "alertmanager_port": str(self.stack.alertmanager_port),
            "worker_host": self.settings.web_host,
            "worker_port": str(self.settings.web_port),
            "rules_glob": str(DEPLOY_DIR / "prometheus" / "*.yml"),
            "file_sd_dir": str(Path(self.stack.state_dir) / "prometheus" / "targets"),
        }

    def render(self) -> str:
        text = (DEPLOY_DIR / "local" / self.template).read_text()
        return Template(text).substitute(self.template_vars())

    def prepare(self) -> None:
        self.binary()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "data").mkdir(exist_ok=True)
        self.config_file.write_text(self.render())

    def free_port(self) -> None:
        """Debian's own daemon may hold our port: stop it; anything else is an error."""
        if not process.port_open("127.0.0.1", self.port):
            return
        binary = self.binary()
        _stop_debian_daemon(self.package)
        for pid in _foreign_pids(binary, self.marker):
            process.stop_pid(pid, binary, timeout_s=20)
        for _ in range(40):
            if not process.port_open("127.0.0.1", self.port):
                return
            time.sleep(0.25)
        super().free_port()

    def healthy(self) -> bool:
        return process.http_ok(f"http://127.0.0.1:{self.port}/-/ready")

    def reload(self) -> None:
        """POST /-/reload so a second ``up`` picks up new rules or config."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/-/reload", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10):  # noqa: S310 (local URL)
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise StackError(f"{self.name}: reload failed ({exc}); see {self.log_file}") from exc


class PrometheusService(_DebianService):
    name = "prometheus"
    binary_name = "prometheus"
    package = "prometheus"
    template = "prometheus.yml"

    @property
    def port(self) -> int:
        return self.stack.prometheus_port

    def prepare(self) -> None:
        super().prepare()
        (Path(self.stack.state_dir) / "prometheus" / "targets").mkdir(parents=True, exist_ok=True)
        promtool = shutil.which("promtool")
        if promtool:
            proc = subprocess.run(  # noqa: S603
                [promtool, "check", "config", str(self.config_file)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise StackError(
                    "prometheus config or rules invalid: "
                    + (proc.stdout + proc.stderr).strip()[-400:]
                )

    def argv(self) -> list[str]:
        return [
            self.binary(),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.state_dir / 'data'}",
            "--storage.tsdb.retention.time=7d",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
        ]


class AlertmanagerService(_DebianService):
    name = "alertmanager"
    binary_name = "prometheus-alertmanager"
    package = "prometheus-alertmanager"
    template = "alertmanager.yml"

    @property
    def port(self) -> int:
        return self.stack.alertmanager_port

    def template_vars(self) -> dict[str, str]:
        """Adds where the console's alert webhook listens and its bearer-token file."""
        from streams.console.alert_token import ensure_alert_token

        return {
            **super().template_vars(),
            "console_port": str(self.settings.console.port),
            "alert_token_file": str(ensure_alert_token(self.settings)),
        }

    def argv(self) -> list[str]:
        return [
            self.binary(),
            f"--config.file={self.config_file}",
            f"--storage.path={self.state_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # no HA gossip: it would bind 0.0.0.0:9094, which is Kafka's controller port
            "--cluster.listen-address=",
        ]
