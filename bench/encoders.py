"""Encoder benchmark: MiniLM int8 (today's) vs multilingual-e5-small fp32 and int8.

Each encoder runs in a child process of its own (so its RSS is its own), one after the
other in the same run, on the same messages (bench/data/customer_sms.tsv, English, and
bench/data/multilingual_sms.tsv, es/fr/de/it/pt/nl/pl): the embedding-only graph
(``bert_graph.build_embedder``; heads left out, since none are trained for e5 yet) on
ONNX Runtime with 2 intra-op threads, batches of 32, padded to each batch's longest.
Each encoder gets ``--passes`` children, interleaved with the others', of ``--rounds``
timed rounds each. Reports msgs/s (the best round: the machine is shared), RSS once
loaded (graph, tokenizer, one warm-up batch; the lowest), and each e5 int8 variant's
embedding cosine to e5 fp32 (mean and minimum over the messages).
``e5-small int8 (fp32 table)`` isolates what the int8 embedding rows cost and save; the
"Latin vocabulary" ones use the vocabulary cut to Latin script (``e5_files.latin_pieces``).
Graphs are built once into the model cache.

Usage: ``python bench/encoders.py [--rounds N]``; prints JSON and writes
bench/results/encoders.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors import bert_graph, e5_files, int8  # noqa: E402
from processors.checksum import file_sha256  # noqa: E402
from processors.config import resolve_model_dir  # noqa: E402
from processors.tokenizer import TextTokenizer  # noqa: E402

BATCH = 32
THREADS = 2
GRAPH_DIR = Path.home() / ".cache" / "voc-pipeline" / "models" / "bench-embedders"


def messages() -> list[str]:
    """The English customer SMS then the seven-language ones (text column)."""
    out: list[str] = []
    for name in ("customer_sms.tsv", "multilingual_sms.tsv"):
        lines = (ROOT / "bench" / "data" / name).read_text(encoding="utf-8").splitlines()[1:]
        out += [line.split("\t")[-1] for line in lines if line.strip()]
    return out


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def graph_file(model_dir: Path, precision: str, int8_rows: bool) -> Path:
    """Build (once) and cache the embedding-only graph."""
    h = hashlib.sha256(bert_graph.BUILDER_VERSION.encode())
    h.update(file_sha256(bert_graph.weights_file(model_dir)).encode())
    h.update(f"{precision}-{int8_rows}".encode())
    path = GRAPH_DIR / f"{model_dir.name}-{precision}-{int(int8_rows)}-{h.hexdigest()[:16]}.onnx"
    if not path.is_file():
        graph = bert_graph.build_embedder(model_dir, "fp32" if precision == "fp32" else "int8",
                                          int8_rows)
        GRAPH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(graph)
        tmp.rename(path)
    return path


def child(graph: Path, model_dir: Path, prefix: str, rounds: int, out: Path) -> None:
    """Load, warm up, time; write the result JSON and the embeddings next to ``out``."""
    texts = [prefix + t for t in messages()]
    g = int8.OnnxGraph(graph.read_bytes(), THREADS)
    tok = TextTokenizer(str(model_dir), 128)
    g(*tok(texts[:BATCH]))
    rss = _rss_mb()
    best = float("inf")
    embs: list[np.ndarray] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        embs = [g(*tok(texts[i:i + BATCH]))[0] for i in range(0, len(texts), BATCH)]
        best = min(best, time.perf_counter() - t0)
    np.save(out.with_suffix(".npy"), np.concatenate(embs))
    out.write_text(json.dumps({"msgs_per_s": round(len(texts) / best, 1),
                               "rss_loaded_mb": round(rss, 1),
                               "graph_mb": round(graph.stat().st_size / 2**20, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds per child")
    ap.add_argument("--passes", type=int, default=3, help="children per encoder")
    ap.add_argument("--child", nargs=4, metavar=("GRAPH", "MODEL_DIR", "PREFIX", "OUT"))
    args = ap.parse_args()
    if args.child:
        graph, model_dir, prefix, out = args.child
        child(Path(graph), Path(model_dir), prefix, args.rounds, Path(out))
        return
    minilm = Path(resolve_model_dir(None))
    e5 = e5_files.ensure()
    e5_latin = e5_files.ensure(encoder=e5_files.E5_LATIN_ID)
    candidates = {
        "MiniLM-L6 int8 (today's)": (minilm, "int8", False, ""),
        "e5-small fp32": (e5, "fp32", False, e5_files.E5_PREFIX),
        "e5-small int8": (e5, "int8", True, e5_files.E5_PREFIX),
        "e5-small int8 (fp32 table)": (e5, "int8", False, e5_files.E5_PREFIX),
        "e5-small int8, Latin vocabulary": (e5_latin, "int8", True, e5_files.E5_PREFIX),
        "e5-small fp32, Latin vocabulary": (e5_latin, "fp32", False, e5_files.E5_PREFIX),
    }
    results: dict[str, dict[str, float]] = {}
    embs: dict[str, np.ndarray] = {}
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), PYTHONPATH=str(ROOT))
    graphs = {name: graph_file(c[0], c[1], c[2]) for name, c in candidates.items()}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.passes):  # interleaved: load swings hit every candidate alike
            for i, (name, (model_dir, _p, _r, prefix)) in enumerate(candidates.items()):
                out = Path(tmp) / f"{i}.json"
                subprocess.run([sys.executable, __file__, "--rounds", str(args.rounds),
                                "--child", str(graphs[name]), str(model_dir), prefix, str(out)],
                               check=True, env=env)
                got = json.loads(out.read_text())
                prev = results.get(name)
                if prev is not None:
                    got["msgs_per_s"] = max(got["msgs_per_s"], prev["msgs_per_s"])
                    got["rss_loaded_mb"] = min(got["rss_loaded_mb"], prev["rss_loaded_mb"])
                results[name] = got
                embs[name] = np.load(out.with_suffix(".npy"))
    ref = embs["e5-small fp32"]
    for name in [n for n in candidates if n.startswith("e5-small") and n != "e5-small fp32"]:
        cos = (embs[name] * ref).sum(axis=1)
        results[name] |= {"cosine_to_fp32_mean": round(float(cos.mean()), 5),
                          "cosine_to_fp32_min": round(float(cos.min()), 5)}
    base = results["MiniLM-L6 int8 (today's)"]["msgs_per_s"]
    for r in results.values():
        r["speed_vs_minilm_int8"] = round(r["msgs_per_s"] / base, 2)
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()} {os.cpu_count()} cpus (shared)",
              "batch": BATCH, "threads": THREADS, "messages": len(messages()),
              "rounds": args.rounds, "passes": args.passes, "encoders": results}
    text = json.dumps(report, indent=2)
    print(text)
    (ROOT / "bench" / "results" / "encoders.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
