"""The local stack's generated configs, checked without starting any server."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.settings import ConsoleSettings, Settings, StackSettings
from streams.stack import SERVICE_NAMES, StackError, services
from streams.stack.kafka import KafkaService, new_cluster_id
from streams.stack.prometheus import AlertmanagerService, PrometheusService
from streams.topics import TOPIC_CONFIGS, topic_specs
from tests.support.es_proxy import plain_media_type


def _settings(tmp_path: Path) -> Settings:
    return Settings(stack=StackSettings(state_dir=tmp_path / "state", cache_dir=tmp_path / "c"))


def test_kafka_properties_bind_loopback_and_never_auto_create(tmp_path: Path) -> None:
    props = dict(
        line.split("=", 1)
        for line in KafkaService(_settings(tmp_path)).server_properties().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9094"
    assert props["auto.create.topics.enable"] == "false"
    assert props["process.roles"] == "broker,controller"
    assert props["log.dirs"].startswith(str(tmp_path))


def test_cluster_ids_are_kraft_shaped() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_prometheus_config_renders_scrapes_worker_and_passes_promtool(tmp_path: Path) -> None:
    settings = Settings(
        web_port=7777, stack=StackSettings(state_dir=tmp_path / "state", alertmanager_port=9555)
    )
    svc = PrometheusService(settings)
    text = svc.render()
    cfg = yaml.safe_load(text)
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["voc-worker"]["static_configs"][0]["targets"] == ["127.0.0.1:7777"]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:9555"
    ]
    assert cfg["rule_files"][0].endswith("deploy/prometheus/*.yml")
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing: apt-get install prometheus (voc stack up does it as root)")
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    proc = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alertmanager_has_no_gossip_port(tmp_path: Path) -> None:
    """Its HA gossip would bind 0.0.0.0:9094, Kafka's controller port."""
    svc = AlertmanagerService(_settings(tmp_path))
    assert "--cluster.listen-address=" in svc.argv()


def test_alertmanager_routes_by_severity_to_the_console_webhook(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(update={"console": ConsoleSettings(port=8123)})
    svc = AlertmanagerService(settings)
    text = svc.render()
    cfg = yaml.safe_load(text)
    assert cfg["route"]["receiver"] == "console"
    routes = {tuple(r["matchers"]): r["receiver"] for r in cfg["route"]["routes"]}
    assert routes == {('severity="critical"',): "console-critical",
                      ('severity="warning"',): "console"}
    token = tmp_path / "state" / "console" / "alert-token"
    for receiver in cfg["receivers"]:
        (hook,) = receiver["webhook_configs"]
        assert hook["url"] == "http://127.0.0.1:8123/alerts/webhook"
        assert hook["send_resolved"] is True
        assert hook["http_config"]["authorization"] == {
            "type": "Bearer", "credentials_file": str(token)}
    # rendering made the token file the console checks: private, random, non-empty
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert len(token.read_text().strip()) == 64
    assert "shown" not in text
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail("amtool missing: apt-get install prometheus-alertmanager (as voc stack up)")
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    proc = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_contract_topic_has_explicit_configs() -> None:
    settings = Settings(topic_prefix="x.")
    specs = topic_specs(settings)
    assert {s.logical for s in specs} == set(TOPIC_CONFIGS)
    assert {s.name for s in specs} == {
        "x." + getattr(settings.topics, n) for n in TOPIC_CONFIGS
    }
    assert all(s.partitions == settings.topics.partitions for s in specs)
    for s in specs:
        assert {"retention.ms", "cleanup.policy", "max.message.bytes"} <= set(s.configs)


def test_service_selection_and_unknown_names(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert [s.name for s in services(settings)] == list(SERVICE_NAMES)
    assert [s.name for s in services(settings, ["prometheus", "kafka"])] == ["kafka", "prometheus"]
    with pytest.raises(StackError, match="unknown service"):
        services(settings, ["zookeeper"])


def test_status_of_a_never_started_stack_is_down(tmp_path: Path) -> None:
    from streams.stack.process import port_open

    settings = Settings(
        stack=StackSettings(
            state_dir=tmp_path / "s", kafka_port=1, opensearch_port=2,
            prometheus_port=3, alertmanager_port=4,
        )
    )
    assert not any(port_open("127.0.0.1", p) for p in (1, 2, 3, 4))
    assert [svc.status().state for svc in services(settings)] == ["down"] * 4


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("application/vnd.elasticsearch+json; compatible-with=9", "application/json"),
        ("application/vnd.elasticsearch+json;compatible-with=8", "application/json"),
        ("application/vnd.elasticsearch+x-ndjson; compatible-with=9", "application/x-ndjson"),
        ("application/json", "application/json"),
    ],
)
def test_proxy_rewrites_compatible_with_media_types(given: str, expected: str) -> None:
    assert plain_media_type(given) == expected
