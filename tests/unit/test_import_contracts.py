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
    contracts = conf["tool"]["importlinter"]["contracts"]
    # one contract per type, except "forbidden": the pure layers and the torch-free runtime
    out = {c["type"]: c for c in contracts if c["type"] != "forbidden"}
    for c in contracts:
        if c["type"] == "forbidden":
            out["forbidden:" + ",".join(c["forbidden_modules"])] = c
    return out


def test_contracts_state_the_may_import_table() -> None:
    c = _contracts()
    assert c["layers"]["layers"] == ["bench", "streams | training", "processors", "schemas"]
    forbidden = next(v for k, v in c.items() if k.startswith("forbidden:") and "kafka" in k)
    assert set(forbidden["source_modules"]) == {"processors", "schemas"}
    assert {"kafka", "aiokafka", "faust", "elasticsearch", "opensearchpy"} \
        <= set(forbidden["forbidden_modules"])
    assert {"schemas", "processors", "streams", "training"} \
        <= set(c["acyclic_siblings"]["ancestors"])


def test_the_runtime_path_may_not_import_torch() -> None:
    """torch is in the [train] extra: streams and the runtime processors never import it,
    only processors.torch_encoder does (tests/unit/test_torch_free.py runs it too)."""
    torch_free = _contracts()["forbidden:torch"]
    assert {"schemas", "streams", "processors.pipeline", "processors.encoder",
            "processors.model_cache"} <= set(torch_free["source_modules"])
    assert torch_free["ignore_imports"] == ["processors.encoder -> processors.torch_encoder",
                                            "processors.heads -> torch"]


def test_the_tree_keeps_every_import_contract() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout
