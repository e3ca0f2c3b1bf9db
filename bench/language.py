"""Language identification on the customer-domain set: the shipped detector beside the
previous one (function words + langdetect) and lingua in its full-accuracy mode.

Why: issue 19 asks for >= 0.97 on messages of 1 to 10 words without hurting the
``voc classify`` cold-start and enricher-memory budgets (issue 20). So each detector
runs in a fresh subprocess of its own, which reports, on the dev part (tuned on) and
the held-out test part (reported, never tuned on):

  * accuracy on 1-10-word messages that have letters, and on all of them, overall,
    English, non-English and per language, with the errors;
  * microseconds per message once loaded;
  * load: seconds and RSS growth from nothing to the first answer (models, profiles);
  * the share of English tweets (TweetEval sentiment test, 12,284) tagged non-English:
    names, titles and hashtags are where a short-text detector is tempted to guess.

Output: JSON on stdout and ``bench/results/language.json``.

    PYTHONPATH=. python bench/language.py
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.customer_set import CUSTOMER_DIR, LANGUAGES, CustomerRow, read_jsonl  # noqa: E402
from training.data import tweeteval  # noqa: E402

PARTS = ("dev", "test")
OUT = ROOT / "bench" / "results" / "language.json"
DETECTORS = ("shipped", "previous_words_langdetect", "lingua_full_8")
_LETTER = re.compile(r"[^\W\d_]")


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _make(name: str) -> Callable[[str], str]:
    """The detector ``name`` as text -> language code; nothing is loaded yet."""
    if name == "shipped":
        from processors.language import detect_language

        return lambda t: detect_language(t).code
    if name == "previous_words_langdetect":
        from bench.language_baseline import detect_language as previous

        return lambda t: previous(t).code
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    state: dict[str, Any] = {}

    def lingua_full(t: str) -> str:
        if "d" not in state:
            codes = [getattr(IsoCode639_1, c.upper()) for c in LANGUAGES]
            state["d"] = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()
        lang = state["d"].detect_language_of(t)
        return lang.iso_code_639_1.name.lower() if lang is not None else "und"

    return lingua_full


def _accuracy(rows: list[CustomerRow], pred: list[str]) -> dict[str, Any]:
    ok = [p == r["language"] for p, r in zip(pred, rows, strict=True)]
    res: dict[str, Any] = {"n": len(rows), "accuracy": round(sum(ok) / len(ok), 3)}
    groups: dict[str, Callable[[str], bool]] = {"en": lambda g: g == "en",
                                                "non_en": lambda g: g != "en"}
    for code in LANGUAGES[1:]:
        groups[code] = lambda g, c=code: g == c  # type: ignore[misc]
    for name, keep in groups.items():
        sel = [o for o, r in zip(ok, rows, strict=True) if keep(r["language"])]
        res[f"accuracy_{name}"] = round(sum(sel) / len(sel), 3) if sel else None
    res["errors"] = [f"{r['language']}->{p}: {r['text']}"
                     for r, p, o in zip(rows, pred, ok, strict=True) if not o][:20]
    return res


def run_one(name: str) -> dict[str, Any]:
    """Measure one detector in this (fresh) process."""
    parts = {p: [r for r in read_jsonl(CUSTOMER_DIR / f"{p}.jsonl")
                 if _LETTER.search(r["text"])] for p in PARTS}
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    detect = _make(name)
    # a sentence every detector must model (no word-list shortcut): loads what it needs
    detect("Zamknąłem konto dwa miesiące temu")
    detect("رسوم مزدوجة على فاتورتي")
    load_s = time.perf_counter() - t0
    out: dict[str, Any] = {"load_s": round(load_s, 2), "load_rss_mb": round(_rss_mb() - rss0)}
    n_all, t_all = 0, 0.0
    for part, rows in parts.items():
        short = [r for r in rows if 1 <= len(r["text"].split()) <= 10]
        t0 = time.perf_counter()
        pred = [detect(r["text"]) for r in rows]
        t_all += time.perf_counter() - t0
        n_all += len(rows)
        by_id = {r["id"]: p for r, p in zip(rows, pred, strict=True)}
        out[part] = {"words_1_10": _accuracy(short, [by_id[r["id"]] for r in short]),
                     "all_lengths": _accuracy(rows, pred)}
    out["us_per_message"] = round(t_all / n_all * 1e6)
    tweets = [t for t in tweeteval("test").texts if _LETTER.search(t)]
    t0 = time.perf_counter()
    flagged = [t for t in tweets if detect(t) not in ("en", "und")]
    us = (time.perf_counter() - t0) / len(tweets) * 1e6
    out["tweeteval_en"] = {"n": len(tweets), "tagged_non_en": len(flagged),
                           "rate": round(len(flagged) / len(tweets), 4),
                           "us_per_message": round(us), "some": flagged[:8]}
    out["rss_after_mb"] = round(_rss_mb())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", choices=DETECTORS, help="measure one detector (subprocess)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    from importlib.metadata import version

    result: dict[str, Any] = {
        "what": "language identification on the customer set (training/data/customer): "
                "dev was tuned on, test is held out; each detector in a fresh process",
        "versions": {d: version(d) for d in ("lingua-language-detector", "langdetect")},
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "detectors": {},
    }
    for name in DETECTORS:
        proc = subprocess.run([sys.executable, __file__, "--one", name], check=True,
                              capture_output=True, text=True, cwd=ROOT)
        result["detectors"][name] = json.loads(proc.stdout)
    result["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(result, indent=2, ensure_ascii=False)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
