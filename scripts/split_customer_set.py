"""Turn the hand-written customer messages into labelled rows and split them ONCE.

Why a script: the split must be made once, stratified and with a recorded seed, and every
row must pass ``training.customer_set.row_problems`` before anything is written. It writes
the three part files and ``SPLIT.json`` under ``training/data/customer/`` and refuses to
overwrite them: re-splitting would let held-out rows leak into training.

Input: a folder of ``*.txt`` authoring files, one message a line:
``lang brand channel sentiment emotion level topics vulnerability harm|text`` with brand
M/B/E/R/K/H, channel s(ms)/v (survey), sentiment n/0/p, emotion a/d/f/j/0|n/s/u, level 0-4
(intensity = level/4), comma lists (short topic codes or ids) and ``-`` for empty.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from processors.taxonomy import load_taxonomy  # noqa: E402
from training.customer_set import (  # noqa: E402
    CUSTOMER_DIR,
    CustomerRow,
    rant_rule,
    row_problems,
)
from training.data import norm_key  # noqa: E402

SEED = 20261207
PARTS = {"train": 0.6, "dev": 0.2}  # the rest is the held-out part
HELD_OUT = "test"
BRAND = {"M": "acme-mobile", "B": "acme-broadband", "E": "northwind-energy",
         "R": "harbour-retail", "K": "fairbank", "H": "olive-kitchen"}
SENT = {"n": "negative", "0": "neutral", "p": "positive"}
EMO = {"a": "anger", "d": "disgust", "f": "fear", "j": "joy", "0": "neutral", "n": "neutral",
       "s": "sadness", "u": "surprise"}
TOPIC = {"bil": "billing", "del": "delivery", "out": "outage", "stf": "staff",
         "wt": "wait_time", "prd": "product", "dig": "digital", "prc": "pricing",
         "can": "cancellation"}


def _list(field: str, codes: dict[str, str] | None = None) -> list[str]:
    if field == "-":
        return []
    return [(codes or {}).get(v, v) for v in field.split(",")]


def parse_line(line: str) -> CustomerRow:
    """One authoring line -> one row (``rant`` from the rant rule)."""
    head, text = line.split("|", 1)
    lang, brand, ch, sent, emo, level, topics, vuln, harm = head.split()
    row: CustomerRow = {
        "id": "", "text": text.strip(), "language": lang, "brand": BRAND[brand],
        "channel": {"s": "sms", "v": "survey"}[ch], "sentiment": SENT[sent],
        "emotion": EMO[emo], "intensity": int(level) / 4, "vulnerability": _list(vuln),
        "harm": _list(harm), "topics": _list(topics, TOPIC), "rant": False,
    }
    row["rant"] = rant_rule(row)
    row["id"] = "cs-" + hashlib.sha256(row["text"].encode()).hexdigest()[:10]
    return row


def split(rows: list[CustomerRow], seed: int) -> dict[str, list[CustomerRow]]:
    """Stratified by (language, rant): each stratum shuffled, then 60/20/20."""
    strata: dict[tuple[str, bool], list[CustomerRow]] = defaultdict(list)
    for r in rows:
        strata[(r["language"], r["rant"])].append(r)
    rng = random.Random(seed)
    out: dict[str, list[CustomerRow]] = {"train": [], "dev": [], HELD_OUT: []}
    for key in sorted(strata):
        group = sorted(strata[key], key=lambda r: r["id"])
        rng.shuffle(group)
        n_dev = round(len(group) * PARTS["dev"])
        n_held = round(len(group) * (1 - PARTS["train"] - PARTS["dev"]))
        out["dev"] += group[:n_dev]
        out[HELD_OUT] += group[n_dev:n_dev + n_held]
        out["train"] += group[n_dev + n_held:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="folder of *.txt authoring files")
    ap.add_argument("--check-only", action="store_true", help="validate, write nothing")
    args = ap.parse_args()
    topic_ids = frozenset(load_taxonomy().subjects)
    files = sorted(args.source.glob("*.txt"))
    rows = [parse_line(line) for f in files
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = [(r["text"], p) for r in rows if (p := row_problems(r, topic_ids))]
    keys = Counter(norm_key(r["text"]) for r in rows)
    dups = [k for k, n in keys.items() if n > 1]
    for text, problems in bad:
        print(f"INVALID {problems}: {text}")
    for k in dups:
        print(f"DUPLICATE: {k}")
    if bad or dups:
        sys.exit(1)
    if args.check_only:
        print(f"{len(rows)} rows valid")
        return
    parts = split(rows, SEED)
    targets = [CUSTOMER_DIR / f"{name}.jsonl" for name in parts]
    if any(t.exists() for t in targets):
        sys.exit("the split exists already: it is made once (delete it only to start over)")
    CUSTOMER_DIR.mkdir(parents=True, exist_ok=True)
    for part, target in zip(parts.values(), targets, strict=True):
        with target.open("w", encoding="utf-8") as fh:
            for r in part:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    digest = hashlib.sha256("\n".join(sorted(r["text"] for r in rows)).encode()).hexdigest()
    meta = {
        "seed": SEED, "stratified_by": ["language", "rant"], "fractions": [0.6, 0.2, 0.2],
        "rows": len(rows), "texts_sha256": digest,
        "parts": {n: {"rows": len(p), "rant": sum(r["rant"] for r in p),
                      "languages": dict(sorted(Counter(r["language"] for r in p).items()))}
                  for n, p in parts.items()},
    }
    (CUSTOMER_DIR / "SPLIT.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
