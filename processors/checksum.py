"""The one file checksum: model sources, downloaded wheels and cached graphs are all
identified by the SHA-256 of their bytes, read in 1 MiB chunks so large weight files never
sit whole in memory."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's contents."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
