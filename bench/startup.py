"""Start-up time and memory of the torch-free runtime beside today's torch path, one run.

Issue 20's targets: ``voc classify`` cold <= 3 s, ``voc enrich`` of one message <= 3 s,
enricher RSS once loaded <= 600 MB, and English enrichment at batch 32 no slower. Each
figure is measured for this tree ("new") and for the torch path ("old": ``git archive``
of ``--old-rev``, run from a temporary directory with the same interpreter), in fresh
processes, alternating old and new, so both see the same machine load:

* ``classify_first_use``: new only, an empty model cache: the graph is built;
* ``classify_cold``: a new ``voc classify`` process (new: the graph is cached);
* ``classify_warm``: a second classify inside the loaded process;
* ``enrich_one``: ``voc enrich`` on one JSON line from stdin;
* ``enricher``: RSS after loading the enricher (as the worker does) and after a batch of
  32, and enrichment throughput at batch 32 (best of ``--rounds``, TweetEval val tweets,
  as bench/speed.py);
* ``worker_healthy`` (``--worker``): ``voc worker`` on the shared stack (own topic prefix,
  alias, port) until ``/health`` answers 200.

Wall seconds and CPU seconds (user + system) and peak RSS come from ``wait4`` per process.
The machine is shared: compare within one run. Writes bench/results/startup.json.

    python bench/startup.py [--rounds 3] [--worker]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEXT = "You charged me twice and nobody answers, I'm furious"
LINE = json.dumps({"message_id": "bench-1", "from": "+447700900000", "body": TEXT,
                   "received_at": "2026-01-01T00:00:00Z", "brand": "bench"})

# run in a child with the tree under test first on sys.path: load the enricher as the
# worker does, report RSS, then time a warm classify and batch-32 throughput
_ENRICHER_CHILD = """
import json, sys, time, resource
from datetime import UTC, datetime
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
t0 = time.perf_counter()
from processors.pipeline import Enricher
from streams.settings import get_settings
from schemas.records import InboundSMS
from training import data
enricher = Enricher(get_settings().enrich)
load_s = time.perf_counter() - t0
rss_loaded = rss()
def sms(texts):
    now = datetime.now(UTC)
    return [InboundSMS.model_validate({"message_id": f"b{i}", "from": "+447700900000",
            "body": t, "received_at": now, "brand": "bench", "customer_id": f"c{i % 50}"})
            for i, t in enumerate(texts)]
t = time.perf_counter()
enricher.enrich_batch(sms([sys.argv[1]]))
warm_s = time.perf_counter() - t
records = sms(data.tweeteval("val").texts[:128])
enricher.enrich_batch(records[:32])
best = 0.0
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    for s in range(0, len(records), 32):
        enricher.enrich_batch(records[s:s + 32])
    best = max(best, len(records) / (time.perf_counter() - t))
print(json.dumps({"load_s": round(load_s, 2), "classify_warm_s": round(warm_s, 3),
                  "rss_mb_loaded": rss_loaded, "rss_mb_after_batches": rss(),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                       1),
                  "enrich_b32_msgs_per_s": round(best, 1),
                  "runtime": getattr(enricher.analyzer, "runtime", "?")}))
"""


def _measured(cmd: list[str], env: dict[str, str], stdin: str | None = None,
              timeout: float = 600) -> dict[str, Any]:
    """Wall seconds, CPU seconds (user + system) and peak RSS of one process, from
    ``wait4`` on it, and its stdout; raises if it fails."""
    with tempfile.TemporaryFile("w+") as fin, tempfile.TemporaryFile("w+") as fout, \
            tempfile.TemporaryFile("w+") as ferr:
        fin.write(stdin or "")
        fin.seek(0)
        t0 = time.perf_counter()
        # cwd: the tree under test (``python -m``/``-c`` put the cwd first on sys.path)
        proc = subprocess.Popen(cmd, env=env, stdin=fin, stdout=fout, stderr=ferr,
                                cwd=env["PYTHONPATH"])
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {err[-2000:]}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "stdout": out}


def _env(tree: Path, cache: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(tree), "VOC_ENRICH__MODEL__CACHE_DIR": str(cache),
                "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra or {})
    return env


def _voc(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli.main", *args]


def _old_tree(rev: str, into: Path) -> Path:
    """``git archive`` of ``rev`` unpacked into ``into`` (the torch path, as it shipped)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _worker_healthy(tree: Path, cache: Path, label: str, port: int) -> dict[str, Any]:
    """Seconds from ``voc worker`` start to ``/health`` 200, and the worker's RSS then."""
    from streams.settings import Settings
    from streams.topics import create_topics

    prefix = f"bench-startup-{label}-{os.getpid()}."
    settings = Settings(topic_prefix=prefix)
    create_topics(settings)
    data = Path(tempfile.mkdtemp(prefix=f"voc-bench-worker-{label}-"))
    env = _env(tree, cache, {"VOC_TOPIC_PREFIX": prefix, "VOC_WEB_PORT": str(port),
                             "VOC_WORKER_DATA_DIR": str(data), "VOC_SEARCH_REPLICAS": "0",
                             "VOC_SEARCH_ALIAS": f"bench-startup-{label}",
                             "VOC_CONSUMER_GROUP": f"bench-startup-{label}-{os.getpid()}"})
    t0 = time.perf_counter()
    proc = subprocess.Popen(_voc("worker"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=tree)
    healthy = None
    try:
        while time.perf_counter() - t0 < 180 and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        healthy = time.perf_counter() - t0
                        break
            except OSError:
                pass
            time.sleep(0.2)
        rss = None
        status = Path(f"/proc/{proc.pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = round(int(line.split()[1]) / 1024, 1)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)
        _delete_topics(settings)
    return {"healthy_s": None if healthy is None else round(healthy, 2), "rss_mb": rss}


def _delete_topics(settings: Any) -> None:
    """Remove the bench's own topics from the shared broker."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--old-rev", default="cac120b", help="the torch path to compare with")
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds (best is kept)")
    ap.add_argument("--pairs", type=int, default=2, help="old/new process pairs per figure")
    ap.add_argument("--worker", action="store_true", help="also time voc worker to healthy")
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "startup.json")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="voc-bench-startup-"))
    old_root = work / "old-repo"
    old_root.mkdir()
    old = _old_tree(args.old_rev, old_root)
    # both trees read the same labelled data (training/data.py: ../shared/data or VOC_DATA_DIR)
    os.environ.setdefault("VOC_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    trees = {"old": old, "new": ROOT}
    cache = work / "models"
    res: dict[str, dict[str, Any]] = {"old": {}, "new": {}}
    try:
        first = _measured(_voc("classify", TEXT), _env(ROOT, cache))
        res["new"]["classify_first_use"] = {k: first[k] for k in ("wall_s", "cpu_s",
                                                                  "peak_rss_mb")}
        for name, cmd, stdin in (("classify_cold", _voc("classify", TEXT), None),
                                 ("enrich_one", _voc("enrich"), LINE + "\n")):
            for _ in range(args.pairs):
                for label in ("old", "new"):
                    r = _measured(cmd, _env(trees[label], cache), stdin)
                    runs = res[label].setdefault(name, {"runs": []})["runs"]
                    runs.append({k: r[k] for k in ("wall_s", "cpu_s", "peak_rss_mb")})
        for label in ("old", "new"):
            for name in ("classify_cold", "enrich_one"):
                runs = res[label][name]["runs"]
                res[label][name]["best_wall_s"] = min(r["wall_s"] for r in runs)
                res[label][name]["best_cpu_s"] = min(r["cpu_s"] for r in runs)
                res[label][name]["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        for _ in range(args.pairs):
            for label in ("old", "new"):
                r = _measured([sys.executable, "-c", _ENRICHER_CHILD, TEXT, str(args.rounds)],
                              _env(trees[label], cache))
                got = json.loads(r["stdout"].strip().splitlines()[-1])
                prev = res[label].get("enricher")
                if prev is None or got["enrich_b32_msgs_per_s"] > prev["enrich_b32_msgs_per_s"]:
                    res[label]["enricher"] = got
        if args.worker:
            for label in ("old", "new"):
                with socket.socket() as sock:  # a free port for its /health
                    sock.bind(("127.0.0.1", 0))
                    port = sock.getsockname()[1]
                try:
                    res[label]["worker"] = _worker_healthy(trees[label], cache, label, port)
                except Exception as exc:  # noqa: BLE001 - reported, the other figures stand
                    res[label]["worker"] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    new, old_r = res["new"], res["old"]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
        "old": f"git {args.old_rev}: torch export + int8 rewrite in memory at every start",
        "new": "this tree: int8 graph from the weights, cached; ONNX Runtime only",
        "results": res,
        "targets": {
            "classify_cold_le_3s": new["classify_cold"]["best_wall_s"] <= 3.0,
            "enrich_one_le_3s": new["enrich_one"]["best_wall_s"] <= 3.0,
            "enricher_rss_le_600mb": new["enricher"]["rss_mb_loaded"] <= 600,
            "enrich_b32_not_lower": new["enricher"]["enrich_b32_msgs_per_s"]
            >= old_r["enricher"]["enrich_b32_msgs_per_s"],
        },
        "note": "2-core machine shared with other processes: wall times include waiting for "
                "a core; cpu_s is the process's own user+system time. Compare within a run.",
    }
    text = json.dumps(result, indent=2)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
