"""``voc models build`` fills the cache once; ``voc models path`` says where."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _voc(*args: str, cache: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VOC_ENRICH__MODEL__CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-m", "streams.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def test_build_then_verify_then_path(tmp_path: Path) -> None:
    first = _voc("models", "build", cache=tmp_path)
    assert first["built"] is True and Path(str(first["path"])).parent == tmp_path
    assert (Path(str(first["path"])) / "encoder.onnx").stat().st_size == first["bytes"]
    second = _voc("models", "build", cache=tmp_path)
    assert second["built"] is False and second["path"] == first["path"]
    where = _voc("models", "path", cache=tmp_path)
    assert where["path"] == first["path"]
