"""The may-import table is enforced: import-linter's contracts (pyproject.toml) are present,
say what the table says, and hold on this tree. ``make lint`` runs the same check; this test
keeps it from being dropped or loosened unnoticed."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> dict[str, dict[str, Any]]:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["type"]: c for c in conf["tool"]["importlinter"]["contracts"]}


def test_contracts_state_the_may_import_table() -> None:
    c = _contracts()
    assert c["layers"]["layers"] == ["bench", "streams | training", "processors", "schemas"]
    forbidden = c["forbidden"]
    assert set(forbidden["source_modules"]) == {"processors", "schemas"}
    assert {"kafka", "aiokafka", "faust", "elasticsearch", "opensearchpy"} \
        <= set(forbidden["forbidden_modules"])
    assert {"schemas", "processors", "streams", "training"} \
        <= set(c["acyclic_siblings"]["ancestors"])


def test_the_tree_keeps_every_import_contract() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout
