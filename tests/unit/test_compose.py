"""deploy/docker-compose.yml cannot run here (no Docker engine), so keep it honest:
it parses, every VOC_* variable is a real setting and lands where intended, the
files it mounts or builds from exist, and published ports stay on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

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


def test_dockerfile_copies_existing_paths() -> None:
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources = line.split()[1:-1]
            for src in sources:
                assert (root / src).exists(), f"Dockerfile copies missing {src}"


def test_compose_prometheus_scrapes_the_worker_and_loads_rules() -> None:
    prom = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    assert jobs["voc-worker"]["static_configs"][0]["targets"] == ["worker:6066"]
    assert prom["rule_files"] == ["/etc/prometheus/rules/*.yml"]
