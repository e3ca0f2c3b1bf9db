"""deploy/docker-compose.yml cannot run here (no Docker engine), so keep it honest:
it parses, every VOC_* variable is a real setting and lands where intended, the
files it mounts or builds from exist, and published ports stay on 127.0.0.1."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.cli.main import cli
from streams.settings import Settings
from tests.support.settings_env import is_setting

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def _voc_env(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: {k: str(v) for k, v in (svc.get("environment") or {}).items() if k.startswith("VOC_")}
        for name, svc in compose["services"].items()
    }


def test_services_of_the_product_are_all_there(compose: dict[str, Any]) -> None:
    assert {"kafka", "elasticsearch", "prometheus", "alertmanager", "grafana", "worker"} <= set(
        compose["services"]
    )
    assert compose["services"]["elasticsearch"]["image"].startswith(
        "docker.elastic.co/elasticsearch/elasticsearch:8."
    )


def test_every_voc_variable_is_a_setting(compose: dict[str, Any]) -> None:
    envs = _voc_env(compose)
    assert envs["worker"], "the worker must be configured through VOC_* variables"
    for service, env in envs.items():
        for key in env:
            assert is_setting(key), f"{service}: {key} is not a Settings field"


def test_worker_environment_reaches_the_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in _voc_env(compose)["worker"].items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka:19092"
    assert settings.search_url == "http://elasticsearch:9200"
    assert settings.search_backend == "elasticsearch"
    assert settings.web_port == 6066
    assert settings.topics.partitions == 4


def test_published_ports_bind_loopback_only(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_mounted_and_built_files_exist(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        build = svc.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file()


def _dockerfile_stages() -> dict[str, list[str]]:
    """Stage name -> its instructions (continuation lines joined), in order."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            current = stages.setdefault(line.split()[-1], [])
        current.append(line)
    return stages


def _copied_sources(lines: list[str]) -> list[str]:
    """What a stage's COPY lines take from the build context (not from another stage)."""
    return [w for line in lines if line.startswith("COPY ") and "--from=" not in line
            for w in line.split()[1:-1] if not w.startswith("--")]


def test_dockerfile_copies_existing_paths() -> None:
    root = DEPLOY.parent.resolve()
    for lines in _dockerfile_stages().values():
        sources = _copied_sources(lines)
        for src in sources:
            assert (root / src).exists(), f"Dockerfile copies missing {src}"
            # a link in a copied folder (streams/deploy, the console's runbooks) must point
            # into something the same stage copies too, or the wheel built there lacks it
            for folder, dirs, files in os.walk(root / src):
                for name in dirs + files:
                    path = Path(folder) / name
                    if path.is_symlink():
                        target = str(path.resolve().relative_to(root))
                        assert any(target == s or target.startswith(s + "/")
                                   for s in sources), f"{path} -> {target} is not copied"


def test_dockerfile_builds_the_torch_free_runtime_in_two_stages() -> None:
    stages = _dockerfile_stages()
    assert list(stages) == ["build", "runtime"], "the runtime stage is the image's last"
    build, runtime = stages["build"], stages["runtime"]
    runs = " ".join(line for line in build if line.startswith("RUN "))
    # the runtime install: the package without the train extra (torch), checked in the build
    assert "pip install . " in runs + " " and "[train]" not in runs and "import torch" in runs
    assert "voc models build" in runs  # the int8 graph is built once, in the image
    for match in re.finditer(r"/opt/voc/bin/voc ([a-z-]+)(?: ([a-z-]+))?", runs):
        group = cli.commands.get(match.group(1))
        assert group is not None, f"voc {match.group(1)} is not a command"
        if match.group(2):
            assert match.group(2) in group.commands, match.group(0)  # type: ignore[attr-defined]
    # the runtime stage copies the venv and the built graph cache, nothing else from build
    copies = [line for line in runtime if line.startswith("COPY ")]
    assert all("--from=build" in line for line in copies)
    assert any(".cache/voc-pipeline" in line for line in copies)
    assert not any("pip install" in line for line in runtime)


def test_image_user_and_probe_match_the_kubernetes_manifests() -> None:
    from streams.liveness import LIVE_PATH

    runtime = _dockerfile_stages()["runtime"]
    user = next(line.split()[1] for line in runtime if line.startswith("USER "))
    worker = yaml.safe_load((DEPLOY / "k8s" / "base" / "worker-deployment.yaml").read_text())
    pod = worker["spec"]["template"]["spec"]["securityContext"]
    assert user == f"{pod['runAsUser']}:{pod['runAsGroup']}"  # numeric: runAsNonRoot checks it
    health = next(line for line in runtime if line.startswith("HEALTHCHECK "))
    assert f"'{LIVE_PATH}'" in health
    assert next(line for line in runtime if line.startswith("ENTRYPOINT ")).endswith('["voc"]')


def test_compose_prometheus_scrapes_the_worker_and_loads_rules() -> None:
    prom = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    assert jobs["voc-worker"]["static_configs"][0]["targets"] == ["worker:6066"]
    assert prom["rule_files"] == ["/etc/prometheus/rules/*.yml"]
