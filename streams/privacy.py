"""The worker's personal-data key and what it protects, built once from ``Settings``.

Why one module: the pseudonym key (HMAC key of customer pseudonyms and of dead letters'
original hashes) is a secret with one lifecycle - read from the file an operator provides
(``VOC_PSEUDONYM_KEY_FILE``), or made once and kept in the state dir for a laptop - and
everything keyed by it must use the same bytes, or repeat contacts stop linking up.

Without a configured file the key is generated (32 random bytes, hex, mode 0600) at
``<state_dir>/secrets/pseudonym.key`` and a warning is logged at every start: a second
worker on another machine would make a different key and split every customer in two,
and losing the file unlinks all history. A configured file that is missing, unreadable or
shorter than 16 bytes stops the worker: silently falling back to another key would be
worse than not starting.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from processors.pseudonym import MIN_KEY_BYTES
from streams.deadletter import DeadLetterPolicy
from streams.settings import Settings

log = logging.getLogger(__name__)


class PseudonymKeyError(RuntimeError):
    """The configured pseudonym key file cannot be used (the worker refuses to start)."""


def pseudonym_key_path(settings: Settings) -> Path:
    """The configured key file, or ``<stack.state_dir>/secrets/pseudonym.key``."""
    if settings.pseudonym_key_file is not None:
        return Path(settings.pseudonym_key_file)
    return Path(settings.stack.state_dir) / "secrets" / "pseudonym.key"


def _read_key(path: Path) -> bytes:
    try:
        # a trailing newline (``openssl rand -hex 32 > file``) is not part of the key
        key = path.read_bytes().strip()
    except OSError as exc:
        raise PseudonymKeyError(f"pseudonym key file {path}: {exc.strerror or exc}") from exc
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(
            f"pseudonym key file {path} holds {len(key)} bytes; at least {MIN_KEY_BYTES} needed")
    return key


def load_pseudonym_key(settings: Settings) -> bytes:
    """The key bytes; generates the default file on first use (see the module doc)."""
    path = pseudonym_key_path(settings)
    if settings.pseudonym_key_file is not None:
        return _read_key(path)
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return _read_key(path)
        except OSError as exc:  # a read-only root (a container): say what to configure
            raise PseudonymKeyError(
                f"cannot create a pseudonym key at {path} ({exc.strerror or exc}); set "
                "VOC_PSEUDONYM_KEY_FILE to a key file shared by every worker") from exc
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        log.warning("generated a new pseudonym key at %s", path)
    log.warning(
        "PSEUDONYM KEY NOT CONFIGURED: customer ids are pseudonymised with the generated key "
        "%s. Back it up and set VOC_PSEUDONYM_KEY_FILE to a key shared by every worker: a "
        "different key splits every customer's history, a lost key unlinks it for good.", path)
    return _read_key(path)


#: the worker's own outputs: redacted text and pseudonyms only, so their dead letters (the
#: index refused a document, a follow-up is malformed) keep the record and can be re-driven
MINIMISED_OUTPUTS = ("enriched", "followups")


def deadletter_policy(settings: Settings, key: bytes) -> DeadLetterPolicy:
    """What the worker's dead letters keep of an original (``deadletter_keep_original``)."""
    return DeadLetterPolicy(
        hash_key=key, keep_original=settings.deadletter_keep_original,
        minimised_sources=frozenset(settings.topic(t) for t in MINIMISED_OUTPUTS))

