"""deploy/systemd: each unit passes ``systemd-analyze verify`` and an offline security
review, and says what it should (restart policy, hardening, real settings, real commands).

The units run ``/opt/voc-pipeline/bin/voc`` (a venv there, as docs/deploy.md installs it);
verify checks that the executable exists, so the test points that prefix at the venv that
runs the tests, which has the same layout. Nothing else of the unit is changed.
A missing systemd-analyze is a failure with the command that installs it, never a skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli.main import cli
from tests.support.settings_env import is_setting

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
PREFIX = "/opt/voc-pipeline"
#: systemd's exposure scale, 0 (locked down) to 10 (exposed), times ten; ours are 1.1
MAX_EXPOSURE_X10 = 20
COMMANDS = {"voc-worker.service": "worker", "voc-console.service": "console"}


@pytest.fixture(scope="module")
def analyze() -> str:
    path = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    if not Path(path).is_file():
        pytest.fail("systemd-analyze is missing: apt-get install systemd", pytrace=False)
    return path


def _parse(text: str) -> dict[str, list[str]]:
    """key -> every value it is given (systemd allows a key more than once), any section."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def _as_installed_here(unit: str, tmp_path: Path) -> Path:
    venv = Path(sys.prefix)
    assert (venv / "bin" / "voc").is_file(), f"{venv} has no bin/voc: run the tests in the venv"
    text = (UNITS / unit).read_text()
    execs = [ln for ln in text.splitlines() if ln.startswith("Exec")]
    assert len(execs) == 1 and execs[0].startswith(f"ExecStart={PREFIX}/bin/voc "), execs
    out = tmp_path / unit
    out.write_text(text.replace(PREFIX, str(venv)))
    return out


def test_both_units_are_there() -> None:
    assert sorted(p.name for p in UNITS.glob("*.service")) == sorted(COMMANDS)


@pytest.mark.parametrize("unit", sorted(COMMANDS))
def test_systemd_analyze_verify_is_clean(unit: str, analyze: str, tmp_path: Path) -> None:
    path = _as_installed_here(unit, tmp_path)
    done = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    # any complaint (an unknown key, a bad value, a missing file) is printed to stderr
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize("unit", sorted(COMMANDS))
def test_offline_security_review_is_ok(unit: str, analyze: str, tmp_path: Path) -> None:
    path = _as_installed_here(unit, tmp_path)
    done = subprocess.run([analyze, "security", "--offline=yes",
                           f"--threshold={MAX_EXPOSURE_X10}", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)
    assert level, done.stdout + done.stderr
    assert done.returncode == 0, f"exposure {level.group(1)} is over {MAX_EXPOSURE_X10 / 10}"


@pytest.mark.parametrize("unit", sorted(COMMANDS))
def test_restart_policy_and_hardening(unit: str) -> None:
    keys = _parse((UNITS / unit).read_text())
    one = {k: v[-1] for k, v in keys.items()}
    assert one["Restart"] == "on-failure" and one["RestartSec"]
    assert int(one["StartLimitBurst"]) > 0 and one["StartLimitIntervalSec"]
    for key, value in {"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "NoNewPrivileges": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
                       "RestrictSUIDSGID": "yes", "UMask": "0077",
                       "CapabilityBoundingSet": ""}.items():
        assert one.get(key) == value, f"{unit}: {key}={one.get(key)!r}, want {value!r}"
    # DynamicUser may write only its state directory: a unit of its own per service
    assert one["StateDirectory"] == unit.removesuffix(".service")
    assert one["ExecStart"] == f"{PREFIX}/bin/voc {COMMANDS[unit]}"
    assert COMMANDS[unit] in cli.commands  # a real voc subcommand


@pytest.mark.parametrize("unit", sorted(COMMANDS))
def test_every_voc_variable_is_a_setting(unit: str) -> None:
    keys = _parse((UNITS / unit).read_text())
    names = [item.split("=", 1)[0] for value in keys.get("Environment", [])
             for item in value.split()]
    voc = [n for n in names if n.startswith("VOC_")]
    assert voc, f"{unit} sets no VOC_* variable"
    assert [n for n in voc if not is_setting(n)] == []
