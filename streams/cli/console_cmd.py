"""``voc console``: run the operations console; ``voc console add-user``: manage accounts."""

from __future__ import annotations

from pathlib import Path

import click


def _read_password(password_file: Path | None) -> str:
    """From a file (first line; ``-`` = stdin) or an interactive prompt, never from argv."""
    if password_file is not None:
        text = (click.get_text_stream("stdin").read() if str(password_file) == "-"
                else password_file.read_text(encoding="utf-8"))
        pw = text.splitlines()[0] if text else ""
    else:
        pw = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(pw) < 8:
        raise click.BadParameter("the password needs at least 8 characters",
                                 param_hint="password")
    return pw


def audit_user_added(name: str, role: str, created: bool) -> str | None:
    """Publish a ``user_added`` audit event (actor = the OS user who ran the command);
    returns an error to show when Kafka is not reachable, the account is written anyway."""
    import getpass
    import json
    import uuid
    from datetime import UTC, datetime

    from streams.settings import get_settings

    settings = get_settings()
    event = {"schema_version": 1, "id": uuid.uuid4().hex, "at": datetime.now(UTC).isoformat(),
             "actor": f"cli:{getpass.getuser()}", "role": "cli", "action": "user_added",
             "target": name, "detail": f"role={role} {'created' if created else 'updated'}",
             "result": "ok"}
    try:
        from kafka import KafkaProducer

        from streams.replay import producer_config

        cfg = producer_config(settings)
        cfg.update(max_block_ms=5000, api_version_auto_timeout_ms=3000)
        producer = KafkaProducer(**cfg)
        try:
            producer.send(settings.topic("audit"),
                          key=name.encode(), value=json.dumps(event).encode()).get(timeout=10)
        finally:
            producer.close(timeout=5)
    except Exception as exc:  # Kafka down: the account exists; say the audit is missing
        return f"{type(exc).__name__}: {exc}"
    return None


def register(cli: click.Group) -> None:
    """Attach the ``console`` group to the voc group."""

    @cli.group("console", invoke_without_command=True)
    @click.option("--host", default=None, help="Bind address (default: VOC_CONSOLE__HOST, "
                  "127.0.0.1).")
    @click.option("--port", type=int, default=None,
                  help="Port (default: VOC_CONSOLE__PORT, 8088).")
    @click.pass_context
    def console(ctx: click.Context, host: str | None, port: int | None) -> None:
        """Run the operations console (a separate process from the worker).

        It reads the search indices and Prometheus/Alertmanager, and writes only to Kafka.
        Add accounts first with `voc console add-user NAME --role agent`.
        """
        if ctx.invoked_subcommand is not None:
            return
        from aiohttp import web

        from streams.console.app import create_console_app
        from streams.console.auth import read_users, users_path
        from streams.console.server import AccessLogger
        from streams.logging import configure_logging
        from streams.settings import get_settings

        settings = get_settings()
        configure_logging(settings)
        c = settings.console
        h, p = host or c.host, port or c.port
        users = users_path(settings)
        if not read_users(users):
            click.echo(f"warning: no users in {users}; add one with "
                       "`voc console add-user NAME --role admin`", err=True)
        app = create_console_app(settings)
        click.echo(f"voc console on http://{h}:{p}/ (users: {users})")
        web.run_app(app, host=h, port=p, print=None, access_log_class=AccessLogger,
                    handle_signals=True)

    @console.command("add-user")
    @click.argument("name")
    @click.option("--role", type=click.Choice(["viewer", "agent", "admin"]), required=True)
    @click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path,
                                                     allow_dash=True), default=None,
                  help="Read the password from this file's first line ('-' = stdin); "
                  "without it you are prompted.")
    @click.option("--users-file", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="Default: VOC_CONSOLE__USERS_FILE.")
    def add_user_cmd(name: str, role: str, password_file: Path | None,
                     users_file: Path | None) -> None:
        """Create the account NAME or change its role and password (argon2id hash)."""
        from streams.console.auth import add_user, users_path
        from streams.settings import get_settings

        path = users_file or users_path(get_settings())
        password = _read_password(password_file)
        try:
            created = add_user(path, name, role, password)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
        click.echo(f"{'added' if created else 'updated'} {name} ({role}) in {path}")
        problem = audit_user_added(name, role, created)
        if problem:
            click.echo(f"warning: audit event not written ({problem})", err=True)
