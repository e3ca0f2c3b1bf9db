"""Every alert reaches a person with a runbook: a ``runbook_url`` the console serves and
the markdown page behind it, checked against the live Prometheus's loaded rules too."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml

from streams.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RUNBOOKS = ROOT / "docs" / "runbooks"


def _alerts() -> list[dict[str, object]]:
    rules = yaml.safe_load(RULES.read_text())
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def test_every_alert_has_a_runbook_url_and_page() -> None:
    alerts = _alerts()
    assert len(alerts) >= 10
    for rule in alerts:
        name = str(rule["alert"])
        notes = rule["annotations"]
        assert isinstance(notes, dict)
        assert notes.get("runbook_url") == f"/runbooks/{name}", name
        page = RUNBOOKS / f"{name}.md"
        assert page.is_file(), f"missing {page}"
        text = page.read_text()
        assert text.startswith(f"# {name}"), name
        for section in ("## What it means", "## How to check", "## What to do"):
            assert section in text, (name, section)
        assert name in (RUNBOOKS / "README.md").read_text(), name


def test_no_orphan_runbooks() -> None:
    names = {str(r["alert"]) for r in _alerts()}
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == names


def test_runbook_links_between_pages_resolve() -> None:
    for page in RUNBOOKS.glob("*.md"):
        for target in re.findall(r"\]\(([A-Za-z0-9_-]+\.md)\)", page.read_text()):
            assert (RUNBOOKS / target).is_file(), (page.name, target)


def test_live_prometheus_serves_the_runbook_url() -> None:
    base = f"http://127.0.0.1:{Settings().stack.prometheus_port}"
    try:
        httpx.post(f"{base}/-/reload", timeout=10)
        groups = httpx.get(f"{base}/api/v1/rules", timeout=10).json()["data"]["groups"]
    except httpx.HTTPError as exc:
        pytest.fail(f"Prometheus not reachable at {base} ({exc}): run `voc stack up`")
    loaded = {r["name"]: r["annotations"] for g in groups if g["file"].endswith("rules.yml")
              for r in g["rules"] if r["type"] == "alerting"}
    assert "VocTopicSpike" in loaded
    for name, notes in loaded.items():
        assert notes.get("runbook_url") == f"/runbooks/{name}", name
