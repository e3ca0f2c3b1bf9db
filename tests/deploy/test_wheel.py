"""The wheel carries deploy/ (as ``streams/deploy``): the Kubernetes manifests, the systemd
units, the Dockerfile and compose file, and the local stack's configs, so a pip install
has them and ``voc stack`` finds its configs there. Built offline from a copy of the
package's sources (the checkout is left untouched), then rendered from the wheel itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: what pyproject's package build reads (the links in streams/ point into deploy/ and docs/)
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "schemas", "processors", "streams",
           "deploy", "docs/runbooks")


def _tracked_files(folder: str) -> set[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return {line for line in out.splitlines() if line}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "--no-index", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300, cwd=src)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("voc_pipeline-*.whl")
    return built


def test_every_deploy_file_is_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = _tracked_files("deploy")
    assert tracked, "git ls-files found nothing under deploy/"
    missing = sorted(f for f in tracked if f"streams/{f}" not in names)
    assert missing == []
    for needed in ("deploy/k8s/base/kustomization.yaml",
                   "deploy/k8s/overlays/production/kustomization.yaml",
                   "deploy/systemd/voc-worker.service", "deploy/systemd/voc-console.service",
                   "deploy/Dockerfile", "deploy/docker-compose.yml"):
        assert f"streams/{needed}" in names
    assert "streams/console/runbooks/README.md" in names


def test_installed_wheel_finds_its_configs_and_renders_its_manifests(
        wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = ("import streams.stack.service as s; print(s.DEPLOY_DIR); "
             "print((s.DEPLOY_DIR / 'local' / 'prometheus.yml').is_file())")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, check=True)
    deploy_dir, found = done.stdout.split()
    assert Path(deploy_dir) == site / "streams" / "deploy" and found == "True"
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is missing: install the Debian package kubectl", pytrace=False)
    rendered = subprocess.run(
        [kubectl, "kustomize", str(site / "streams" / "deploy" / "k8s" / "overlays" /
                                   "production")],
        capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    assert "kind: HorizontalPodAutoscaler" in rendered.stdout
