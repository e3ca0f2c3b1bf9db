"""The console part of ``voc demo``: a demo account and a ``voc console`` beside the worker.

Why a module of its own: the demo must leave a new user with something to open in a
browser, and the account, the process and its pidfile are one concern that ``--stop``
undoes. The demo password is random per machine, kept 0600 next to the users file, and
printed by the demo, never committed anywhere.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from pathlib import Path

import click

from streams.probe import NotAnswering, http_json, wait_answering
from streams.settings import Settings

DEMO_USER = "demo"


def console_url(settings: Settings) -> str:
    return f"http://{settings.console.host}:{settings.console.port}"


def _pidfile(settings: Settings) -> Path:
    return Path(settings.worker_data_dir) / "demo-console.pid"


def ensure_demo_user(settings: Settings) -> str:
    """The demo admin's password: made (and the account added) on the first demo."""
    from streams.console.auth import add_user, read_users, users_path, verify_password

    users = users_path(settings)
    secret = users.parent / "demo-password"
    password = secret.read_text(encoding="utf-8").strip() if secret.exists() else ""
    current = read_users(users).get(DEMO_USER)
    if password and current is not None and verify_password(current.password_hash, password):
        return password
    password = secrets.token_urlsafe(12)
    secret.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(password + "\n")
    add_user(users, DEMO_USER, "admin", password)
    return password


def start_console(settings: Settings, voc: list[str], timeout_s: float = 60.0) -> str:
    """Start ``voc console`` unless one answers already; its URL once it serves the login."""
    url = console_url(settings)
    if http_json(url + "/login")[0] == 200:
        click.echo(f"a console already answers on {url}; reusing it")
        return url
    log_path = Path(settings.worker_data_dir) / "demo-console.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen([*voc, "console"], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _pidfile(settings).write_text(str(proc.pid))
    click.echo(f"console pid {proc.pid}, log {log_path}")
    try:
        wait_answering(url + "/login", timeout_s, proc, name="the console", poll_s=0.5)
    except NotAnswering as exc:
        raise click.ClickException(f"{exc}; see {log_path}") from exc
    return url


def stop_console(settings: Settings) -> None:
    """Stop the demo's console, if it started one."""
    pidfile = _pidfile(settings)
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        click.echo(f"stopped console (pid {pid})")
    except (OSError, ValueError):
        pass
    pidfile.unlink(missing_ok=True)
