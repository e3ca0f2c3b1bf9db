"""deploy/k8s: the base and every overlay render offline with ``kubectl kustomize``, every
rendered object validates against the Kubernetes JSON schemas (``kubernetes-validate``,
strict: an unknown field is an error), and the objects say what the service needs: the
probe paths the servers serve, requests and limits, the settings the code reads, Secrets
only for secret settings, and no more workers than partitions.

kubectl is part of this project's machine image (Debian package ``kubectl``), with the
kustomize it embeds; a missing kubectl is a loud failure, never a skip.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from streams.liveness import LIVE_PATH
from streams.settings import Settings
from streams.topics import topic_specs
from streams.web import HEALTH_PATH
from tests.support.k8s import quantity_bytes
from tests.support.settings_env import is_secret, is_setting, setting_field

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
TARGETS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}
#: the oldest Kubernetes the manifests claim (docs/deploy.md), and the newest schemas shipped
KUBE_VERSIONS = ("1.29", latest_version())
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is missing (it renders deploy/k8s with its built-in kustomize): "
                    "install the Debian package kubectl, or any kubectl >= 1.27 on PATH",
                    pytrace=False)
    return path


def _render(kubectl: str, target: Path) -> list[Obj]:
    done = subprocess.run([kubectl, "kustomize", str(target)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module", params=sorted(TARGETS))
def rendered(request: pytest.FixtureRequest, kubectl: str) -> tuple[str, list[Obj]]:
    return request.param, _render(kubectl, TARGETS[request.param])


def _one(objs: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _pod_specs(objs: list[Obj]) -> dict[str, Obj]:
    return {f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["spec"]
            for o in objs if o["kind"] in ("Deployment", "Job")}


def _config(objs: list[Obj]) -> dict[str, str]:
    maps = [o for o in objs if o["kind"] == "ConfigMap"]
    assert len(maps) == 1 and maps[0]["metadata"]["name"].startswith("voc-settings-")
    return dict(maps[0]["data"])


def _plain_env(objs: list[Obj], container: Obj) -> dict[str, str]:
    """The VOC_* values a container sees: its ConfigMap's, then its own plain ``env``."""
    cm = {o["metadata"]["name"]: o["data"] for o in objs if o["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= cm[source["configMapRef"]["name"]]  # KeyError: refers to a missing ConfigMap
    env |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    return env


def _settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a pod built from ``env`` sees them. Where the overlay asks for SASL, the
    pod also gets the password from the Secret ``voc-secrets`` (a placeholder here): the
    settings refuse SASL without one."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if env.get("VOC_KAFKA_SECURITY_PROTOCOL", "").startswith("SASL"):
        monkeypatch.setenv("VOC_KAFKA_SASL_PASSWORD", "from-the-secret")
    return Settings()


# --- rendering and the schemas -------------------------------------------------------------


def test_kustomizations_use_local_files_only() -> None:
    """Rendering is offline: no remote base, no URL anywhere in a resource list."""
    for path in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(path.read_text())
        for ref in spec.get("resources", []) + [p.get("path", "") for p in
                                                 spec.get("patches", [])]:
            assert "://" not in ref and not ref.startswith("github.com"), f"{path}: {ref}"
            assert (path.parent / ref).exists(), f"{path}: {ref} does not exist"


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_object_validates_against_the_schemas(rendered: tuple[str, list[Obj]],
                                                    version: str) -> None:
    _, objs = rendered
    assert len(objs) >= 10
    for obj in objs:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_validator_refuses_what_kubernetes_would() -> None:
    """The check above has teeth: a misspelt field and a wrong type are errors."""
    deployment = yaml.safe_load((K8S / "base" / "worker-deployment.yaml").read_text())
    kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    wrong = copy.deepcopy(deployment)
    wrong["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    for bad in (typo, wrong):
        with pytest.raises(jsonschema.ValidationError):
            kubernetes_validate.validate(bad, KUBE_VERSIONS[0], strict=True)


def test_the_objects_of_the_service_are_all_there(rendered: tuple[str, list[Obj]]) -> None:
    _, objs = rendered
    for kind, name in (("Deployment", "voc-worker"), ("Deployment", "voc-console"),
                       ("Service", "voc-worker"), ("Service", "voc-console"),
                       ("PodDisruptionBudget", "voc-worker"),
                       ("HorizontalPodAutoscaler", "voc-worker"), ("Job", "voc-topics-create"),
                       ("ServiceAccount", "voc-pipeline")):
        _one(objs, kind, name)
    assert any(o["kind"] == "NetworkPolicy" for o in objs)
    job = _one(objs, "Job", "voc-topics-create")["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["topics", "create"]


# --- probes --------------------------------------------------------------------------------


def _port(container: Obj, port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def test_worker_probes_live_and_health_on_its_web_port(rendered: tuple[str, list[Obj]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, objs = rendered
    c = _one(objs, "Deployment", "voc-worker")["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["worker"]
    settings = _settings(_plain_env(objs, c), monkeypatch)
    assert settings.web_host == "0.0.0.0"  # the kubelet probes from outside the pod
    for probe, path in (("startupProbe", LIVE_PATH), ("livenessProbe", LIVE_PATH),
                        ("readinessProbe", HEALTH_PATH)):
        get = c[probe]["httpGet"]
        assert get["path"] == path, probe
        assert _port(c, get["port"]) == settings.web_port, probe
    # /health waits up to 2 s per dependency: the probe must wait longer
    assert c["readinessProbe"]["timeoutSeconds"] > 2


def test_console_probes_live_on_its_port(rendered: tuple[str, list[Obj]],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, objs = rendered
    c = _one(objs, "Deployment", "voc-console")["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["console"]
    settings = _settings(_plain_env(objs, c), monkeypatch)
    assert settings.console.host == "0.0.0.0"
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["path"] == LIVE_PATH
        assert _port(c, c[probe]["httpGet"]["port"]) == settings.console.port


# --- resources and security ----------------------------------------------------------------


def test_every_container_has_requests_and_a_memory_limit(
        rendered: tuple[str, list[Obj]]) -> None:
    _, objs = rendered
    for where, spec in _pod_specs(objs).items():
        for c in spec["containers"]:
            res = c.get("resources", {})
            req, lim = res.get("requests", {}), res.get("limits", {})
            assert {"cpu", "memory"} <= set(req), f"{where}: requests {req}"
            assert "memory" in lim, f"{where}: no memory limit"
            assert quantity_bytes(req["memory"]) <= quantity_bytes(lim["memory"]), where
    # a real worker's and console's resident memory is checked against these requests in
    # tests/integration/test_liveness.py


def test_pods_run_restricted(rendered: tuple[str, list[Obj]]) -> None:
    """What the "restricted" Pod Security Standard asks, plus a read-only root."""
    _, objs = rendered
    for where, spec in _pod_specs(objs).items():
        assert spec["automountServiceAccountToken"] is False, where
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), where
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["runAsNonRoot"] is True and not sc.get("privileged"), where
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: a read-only root needs a writable /tmp"


def test_the_worker_data_dir_is_a_writable_volume(rendered: tuple[str, list[Obj]],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _, objs = rendered
    spec = _pod_specs(objs)["Deployment/voc-worker"]
    c = spec["containers"][0]
    data_dir = _settings(_plain_env(objs, c), monkeypatch).worker_data_dir
    empty = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    assert any(Path(m["mountPath"]) in (data_dir, *data_dir.parents) and m["name"] in empty
               and not m.get("readOnly") for m in c["volumeMounts"]), data_dir


# --- settings and secrets ------------------------------------------------------------------


def test_configmap_holds_only_real_non_secret_settings(rendered: tuple[str, list[Obj]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, objs = rendered
    config = _config(objs)
    assert [k for k in config if not is_setting(k)] == []
    assert [k for k in config if is_secret(k)] == []  # secrets go in Secrets
    _settings(config, monkeypatch)  # every value parses


def test_secret_keys_feed_the_secret_settings(rendered: tuple[str, list[Obj]]) -> None:
    _, objs = rendered
    secret_fields = {name for name in Settings.model_fields if is_secret(f"VOC_{name.upper()}")}
    assert secret_fields == {"kafka_sasl_password", "kafka_ssl_key_password", "search_api_key",
                             "search_password"}
    for where, spec in _pod_specs(objs).items():
        for c in spec["containers"]:
            from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])
                           if "secretKeyRef" in e.get("valueFrom", {})}
            for name, ref in from_secret.items():
                assert is_secret(name), f"{where}: {name} is not a secret setting"
                assert ref["name"] == "voc-secrets" and ref["key"], where
            plain = {e["name"] for e in c.get("env", []) if "value" in e}
            assert [n for n in plain if not is_setting(n)] == [], where
            assert [n for n in plain if is_secret(n)] == [], where
    worker = _pod_specs(objs)["Deployment/voc-worker"]["containers"][0]
    wired = {e["name"] for e in worker["env"] if "valueFrom" in e}
    assert wired == {f"VOC_{f.upper()}" for f in secret_fields}


def test_console_files_come_from_its_secret(rendered: tuple[str, list[Obj]],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, objs = rendered
    spec = _pod_specs(objs)["Deployment/voc-console"]
    c = spec["containers"][0]
    console = _settings(_plain_env(objs, c), monkeypatch).console
    secret_vols = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"] if m["name"] in secret_vols}
    for field in ("users_file", "secret_file", "alert_token_file"):
        path = getattr(console, field)
        assert path is not None, field
        mount = mounts.get(str(path.parent))
        assert mount and mount["readOnly"] and secret_vols[mount["name"]] == "voc-console", field
    assert setting_field("VOC_CONSOLE__USERS_FILE") is not None


def test_every_worker_reads_the_one_pseudonym_key_from_the_secret(
    rendered: tuple[str, list[Obj]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replicas must share the key (a generated one per pod would split every customer),
    and a missing key keeps the pod from starting instead."""
    _, objs = rendered
    spec = _pod_specs(objs)["Deployment/voc-worker"]
    c = spec["containers"][0]
    key_file = _settings(_plain_env(objs, c), monkeypatch).pseudonym_key_file
    assert key_file is not None
    vols = {v["name"]: v for v in spec["volumes"] if "secret" in v}
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == str(key_file.parent)]
    secret = vols[mount["name"]]["secret"]
    assert mount["readOnly"] and secret["secretName"] == "voc-secrets"
    assert secret["items"] == [{"key": "pseudonym-key", "path": key_file.name}]
    assert not secret.get("optional")


# --- scaling -------------------------------------------------------------------------------


def test_autoscaler_stops_at_the_partition_count(rendered: tuple[str, list[Obj]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, objs = rendered
    hpa = _one(objs, "HorizontalPodAutoscaler", "voc-worker")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "voc-worker"}
    worker = _one(objs, "Deployment", "voc-worker")
    assert "replicas" not in worker["spec"], "the HPA owns the worker's replica count"
    c = worker["spec"]["template"]["spec"]["containers"][0]
    settings = _settings(_plain_env(objs, c), monkeypatch)
    # the partitions `voc topics create` makes, with the settings the topics Job reads
    job = _one(objs, "Job", "voc-topics-create")["spec"]["template"]["spec"]["containers"][0]
    assert job["envFrom"] == c["envFrom"]
    partitions = min(s.partitions for s in topic_specs(settings))
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert hpa["maxReplicas"] == partitions, "one worker per partition at most, and no fewer"


def test_disruption_budget_and_services_select_real_pods(
        rendered: tuple[str, list[Obj]]) -> None:
    _, objs = rendered
    labels = {name: spec["metadata"]["labels"] for name, spec in
              ((o["metadata"]["name"], o["spec"]["template"]) for o in objs
               if o["kind"] in ("Deployment", "Job"))}

    def selects(selector: dict[str, str]) -> set[str]:
        return {n for n, lab in labels.items() if selector.items() <= lab.items()}

    pdb = _one(objs, "PodDisruptionBudget", "voc-worker")["spec"]
    assert selects(pdb["selector"]["matchLabels"]) == {"voc-worker"}
    assert pdb["maxUnavailable"] == 1 and pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    for name in ("voc-worker", "voc-console"):
        svc = _one(objs, "Service", name)["spec"]
        assert selects(svc["selector"]) == {name}
    for policy in (o for o in objs if o["kind"] == "NetworkPolicy"):
        assert selects(policy["spec"]["podSelector"]["matchLabels"]), policy["metadata"]["name"]


def test_production_overlay(kubectl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    objs = _render(kubectl, TARGETS["production"])
    ns = _one(objs, "Namespace", "voc-pipeline")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(o["metadata"].get("namespace") == "voc-pipeline"
               for o in objs if o["kind"] != "Namespace")
    images = {c["image"] for spec in _pod_specs(objs).values() for c in spec["containers"]}
    assert len(images) == 1 and not images.pop().endswith((":latest", "voc-pipeline"))
    c = _one(objs, "Deployment", "voc-worker")["spec"]["template"]["spec"]["containers"][0]
    settings = _settings(_plain_env(objs, c), monkeypatch)
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.topics.replication_factor == 3 and settings.topics.partitions == 12
    # the CA the settings name is mounted in every pod that connects
    for where, spec in _pod_specs(objs).items():
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert str(settings.kafka_ssl_cafile.parent) in mounts, where  # type: ignore[union-attr]
