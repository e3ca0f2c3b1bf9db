"""The bearer token Alertmanager sends to the console's ``/alerts/webhook``.

Why a file: Alertmanager reads ``http_config.authorization.credentials_file`` on each
notification, so the token never sits in its rendered config, and the console compares
against the same file. ``voc stack up`` (rendering alertmanager.yml) and the console both
call ``ensure_alert_token``: whichever runs first creates it (0600, random).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from streams.settings import Settings


def alert_token_path(settings: Settings) -> Path:
    """The configured token file, or ``<state_dir>/console/alert-token``."""
    configured = settings.console.alert_token_file
    if configured is not None:
        return Path(configured)
    return Path(settings.stack.state_dir) / "console" / "alert-token"


def ensure_alert_token(settings: Settings) -> Path:
    """Create the token file (0600, 32 random bytes as hex) if it does not exist."""
    path = alert_token_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path


def read_alert_token(settings: Settings) -> str:
    """The token (stripped); an empty or missing file yields "" which accepts nothing."""
    try:
        return alert_token_path(settings).read_text().strip()
    except OSError:
        return ""
