"""Alert rules: promtool validates and unit-tests them, and the live Prometheus loads them.

promtool comes with Debian's ``prometheus`` package (installed by ``voc stack up``); if it is
missing this test fails loudly, it never skips.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from streams.metrics import Metrics
from streams.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "tests" / "rules_test.yml"
EXPECTED = {
    "VocWorkerDown", "VocPipelineStalled", "VocIndexingStalled", "VocConsumerLagHigh",
    "VocSearchDown", "VocIndexingErrors", "VocDeadLetterRateHigh", "VocRantSpike",
    "VocFollowupSlaBreached", "VocTopicSpike", "VocIndexWriteBlocked",
}


def _promtool() -> str:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: install Debian's `prometheus` package "
                    "(apt-get install -y prometheus) or run `voc stack up`")
    return exe


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_promtool_check_rules() -> None:
    res = _run("check", "rules", str(RULES))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"SUCCESS: {len(EXPECTED)} rules found" in res.stdout


def test_promtool_unit_tests_pass() -> None:
    res = _run("test", "rules", str(RULES_TEST))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_every_alert_is_unit_tested_and_uses_only_our_metrics() -> None:
    rules = yaml.safe_load(RULES.read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert set(alerts) == EXPECTED
    tested = {t["alertname"] for case in yaml.safe_load(RULES_TEST.read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    assert tested == EXPECTED
    exposed = Metrics().render().decode()
    for name, expr in alerts.items():
        for token in re.findall(r"\bvoc_[a-z_]+", expr):
            family = re.sub(r"_total$", "", token)
            assert f"# TYPE {family} " in exposed or f"# TYPE {token} " in exposed, (name, token)
    assert all(r.get("labels", {}).get("severity") in ("warning", "critical")
               for g in rules["groups"] for r in g["rules"])


def test_live_prometheus_loads_the_rules() -> None:
    base = f"http://127.0.0.1:{Settings().stack.prometheus_port}"
    try:
        httpx.post(f"{base}/-/reload", timeout=10)  # pick up edits made since `stack up`
    except httpx.HTTPError as exc:
        pytest.fail(f"Prometheus not reachable at {base} ({exc}): run `voc stack up`")
    deadline = time.monotonic() + 30
    names: set[str] = set()
    while time.monotonic() < deadline:
        groups = httpx.get(f"{base}/api/v1/rules", timeout=10).json()["data"]["groups"]
        ours = [r for g in groups if g["file"].endswith("rules.yml") for r in g["rules"]]
        names = {r["name"] for r in ours}
        if names >= EXPECTED and all(r["health"] in ("ok", "unknown") for r in ours):
            break
        time.sleep(1)
    assert names >= EXPECTED


def test_dashboard_queries_run_on_live_prometheus() -> None:
    """Every Grafana panel query parses and runs, and names only metrics we export."""
    import json

    dash = json.loads((ROOT / "deploy" / "grafana" / "voc-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    exposed = Metrics().render().decode()
    base = f"http://127.0.0.1:{Settings().stack.prometheus_port}"
    for expr in exprs:
        for token in re.findall(r"\bvoc_[a-z_]+", expr):
            family = re.sub(r"_bucket$", "", token)
            assert f"# TYPE {family} " in exposed, token
        try:
            resp = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
        except httpx.HTTPError as exc:
            pytest.fail(f"Prometheus not reachable at {base} ({exc}): run `voc stack up`")
        assert resp.status_code == 200 and resp.json()["status"] == "success", (expr, resp.text)
