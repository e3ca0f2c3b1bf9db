"""Reading deploy/k8s for tests: Kubernetes quantities and a container's memory request.

Why shared: the manifest tests check the requests are there, and the integration tests
check a real worker's and console's resident memory fits them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

BASE = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base"
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}


def quantity_bytes(quantity: str) -> int:
    """``"448Mi"`` -> 469762048 (binary and decimal suffixes, or plain bytes)."""
    for suffix, factor in _UNITS.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


def memory_request(deployment: str) -> int:
    """The first container's memory request of ``deploy/k8s/base/<deployment>.yaml``."""
    doc = yaml.safe_load((BASE / f"{deployment}.yaml").read_text())
    container = doc["spec"]["template"]["spec"]["containers"][0]
    return quantity_bytes(container["resources"]["requests"]["memory"])
