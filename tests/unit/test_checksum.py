"""processors.checksum: the chunked file hash equals hashlib's hash of the whole bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from processors.checksum import file_sha256


def test_file_sha256_matches_the_whole_file_hash_across_chunks(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one 1 MiB chunk
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(empty) == hashlib.sha256(b"").hexdigest()
