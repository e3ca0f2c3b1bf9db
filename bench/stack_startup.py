"""How long ``voc stack up`` takes cold (downloads), warm (restart) and when already up.

Runs a throwaway stack on spare ports with its own state dir, jar cache and Maven
repository (so "cold" really downloads every jar), then prints JSON: wall seconds per
phase and the resident memory of each server. The shared stack on the default ports is
not touched. Prometheus/Alertmanager come from Debian packages; their install time is
only included if they are missing (``apt_install_included``).

    python bench/stack_startup.py [--keep-cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from streams.settings import Settings, StackSettings
from streams.stack import down, status, up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="kafka,opensearch,prometheus,alertmanager")
    args = parser.parse_args()
    only = args.only.split(",")
    work = Path(tempfile.mkdtemp(prefix="voc-stack-bench-"))
    os.environ["MAVEN_OPTS"] = f"-Dmaven.repo.local={work / 'm2'}"
    apt_needed = shutil.which("prometheus") is None
    settings = Settings(
        topic_prefix="bench.",
        stack=StackSettings(
            cache_dir=work / "cache",
            state_dir=work / "state",
            kafka_port=_free_port(),
            kafka_controller_port=_free_port(),
            opensearch_port=_free_port(),
            prometheus_port=_free_port(),
            alertmanager_port=_free_port(),
        ),
    )
    settings.kafka_bootstrap = f"127.0.0.1:{settings.stack.kafka_port}"
    quiet: list[str] = []
    result: dict[str, object] = {"services": only, "apt_install_included": apt_needed}
    try:
        t0 = time.monotonic()
        up(settings, only, report=quiet.append)
        result["cold_up_s"] = round(time.monotonic() - t0, 1)
        result["rss_mib_after_cold"] = {
            s.name: round(s.rss_bytes / 2**20) for s in status(settings, only)
        }
        t0 = time.monotonic()
        up(settings, only, report=quiet.append)
        result["noop_up_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        down(settings, only, report=quiet.append)
        result["down_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        up(settings, only, report=quiet.append)
        result["warm_up_s"] = round(time.monotonic() - t0, 1)
        time.sleep(20)  # let the JVMs settle before reading memory
        result["rss_mib_settled"] = {
            s.name: round(s.rss_bytes / 2**20) for s in status(settings, only)
        }
        result["heap"] = {
            "kafka": settings.stack.kafka_heap, "opensearch": settings.stack.opensearch_heap
        }
        result["download_mib"] = round(
            sum(f.stat().st_size for f in (work / "m2").rglob("*") if f.is_file()) / 2**20
        )
    finally:
        down(settings, only, report=quiet.append)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
