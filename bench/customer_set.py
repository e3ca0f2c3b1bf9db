"""Today's shipped enrichment, and language identification, on the customer-domain set.

Why: ``training/data/customer/`` (LABELLING.md) is the yardstick for issue 19. This runs
its dev and held-out test parts through the pipeline exactly as ``voc classify`` does
(``Enricher`` from the settings, one SMS per row) and reports, per part and per language:

  * sentiment macro-F1 (VADER beside it, same rows, same run);
  * emotion macro-F1 over the 7 labels with per-label precision and recall;
  * topic micro-F1 (multi-label; the taxonomy ids the pipeline tags);
  * rant F1, precision and recall (rant = the pipeline made a FollowUp);
  * language identification on the messages of 1-10 words: today's detector
    (``processors.language.detect_language``) beside ``lingua-language-detector``
    restricted to the set's 8 languages - accuracy and microseconds per message.

This file is the only reader of the held-out part: nothing here tunes anything.
Output: JSON on stdout and ``bench/results/customer_set.json``.

    PYTHONPATH=. python bench/customer_set.py
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.language import detect_language  # noqa: E402
from processors.pipeline import Enricher  # noqa: E402
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS  # noqa: E402
from schemas.records import InboundSMS  # noqa: E402
from streams.settings import get_settings  # noqa: E402
from training.customer_set import CUSTOMER_DIR, LANGUAGES, CustomerRow, read_jsonl  # noqa: E402

PARTS = ("dev", "test")
#: what ``by_language`` keeps for a single language (~17 rows each: headline figures only)
HEADLINE = ("n", "sentiment_macro_f1", "vader_sentiment_macro_f1", "emotion_macro_f1",
            "topic_micro", "rant", "intensity_mae", "vulnerability", "harm")
OUT = ROOT / "bench" / "results" / "customer_set.json"
_LETTER = re.compile(r"[^\W\d_]")


# --------------------------------------------------------------------------- metrics


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3)}


def per_label(gold: Sequence[str], pred: Sequence[str],
              labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each label (single-label classification)."""
    out: dict[str, dict[str, float]] = {}
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred, strict=True))
        fp = sum(g != lab and p == lab for g, p in zip(gold, pred, strict=True))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred, strict=True))
        out[lab] = {**_prf(tp, fp, fn), "support": sum(g == lab for g in gold)}
    return out


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Mean F1 over the labels present in gold or predictions (absent from both: skipped)."""
    present = [lab for lab in labels if lab in gold or lab in pred]
    scores = per_label(gold, pred, present)
    return round(sum(s["f1"] for s in scores.values()) / len(present), 3) if present else 0.0


def micro_f1_sets(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> dict[str, float]:
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, pred, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, pred, strict=True))
    return _prf(tp, fp, fn)


def confusion(gold: Sequence[str], pred: Sequence[str],
              labels: Sequence[str]) -> dict[str, Any]:
    """Counts of (gold, predicted) pairs: ``matrix[i][j]`` = rows of gold ``labels[i]``
    predicted ``labels[j]``; a label outside ``labels`` on either side is not counted."""
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        if g in index and p in index:
            matrix[index[g]][index[p]] += 1
    return {"labels": list(labels), "rows": "gold", "columns": "predicted", "matrix": matrix}


def binary(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, float]:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    return {**_prf(tp, fp, fn), "support": sum(gold), "flagged": sum(pred)}


# --------------------------------------------------------------------------- predictions

#: the prefixes of the urgency reasons that say the pipeline saw a vulnerable customer or a
#: harm (processors/cues.yaml and the calibration's meaning cues write them)
VULNERABLE_REASON = "vulnerable:"
HARM_REASON = "harm:"


def flags(reasons: Sequence[str]) -> dict[str, bool]:
    """Whether the urgency reasons name a vulnerability and a harm."""
    return {"vulnerable": any(r.startswith(VULNERABLE_REASON) for r in reasons),
            "harm": any(r.startswith(HARM_REASON) for r in reasons)}



def enrich(enricher: Enricher, rows: list[CustomerRow], batch: int = 32) -> list[dict[str, Any]]:
    """One SMS per row through the pipeline, as ``voc classify`` builds it."""
    now = datetime.now(UTC)
    preds: list[dict[str, Any]] = []
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        items = [InboundSMS.model_validate({
            "message_id": r["id"], "from": "bench", "body": r["text"], "received_at": now,
            "brand": r["brand"]}) for r in chunk]
        for res in enricher.enrich_batch(items, [0] * len(items), now):
            fb = res.feedback
            preds.append({
                "sentiment": fb.sentiment.label, "emotion": fb.emotion.label,
                "topics": {t.name for t in fb.topics}, "rant": res.followup is not None,
                "language": fb.language, "urgency": fb.urgency.level,
                "intensity": fb.intensity, **flags(fb.urgency.reasons)})
    return preds


def vader_labels(texts: list[str]) -> list[str]:
    """Standard VADER thresholds: >= 0.05 positive, <= -0.05 negative, else neutral."""
    from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
        SentimentIntensityAnalyzer,
    )

    sia = SentimentIntensityAnalyzer()
    out = []
    for t in texts:
        c = sia.polarity_scores(t)["compound"]
        out.append("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral")
    return out


def scores(rows: list[CustomerRow], preds: list[dict[str, Any]],
           vader: list[str]) -> dict[str, Any]:
    """Every figure of ``preds`` against the labels of ``rows`` (same order), VADER beside."""
    gs = [r["sentiment"] for r in rows]
    ge = [r["emotion"] for r in rows]
    pe = [p["emotion"] for p in preds]
    return {
        "n": len(rows),
        "sentiment_macro_f1": macro_f1(gs, [p["sentiment"] for p in preds], SENTIMENT_LABELS),
        "vader_sentiment_macro_f1": macro_f1(gs, vader, SENTIMENT_LABELS),
        "emotion_macro_f1": macro_f1(ge, pe, EMOTION_LABELS),
        "emotion_per_label": per_label(ge, pe, EMOTION_LABELS),
        "topic_micro": micro_f1_sets([set(r["topics"]) for r in rows],
                                     [p["topics"] for p in preds]),
        "rant": binary([r["rant"] for r in rows], [p["rant"] for p in preds]),
        **({"rant_before_intensity": binary([r["rant"] for r in rows],
                                            [p["rant_before"] for p in preds])}
           if preds and "rant_before" in preds[0] else {}),
        **({"vulnerability": binary([bool(r["vulnerability"]) for r in rows],
                                    [p["vulnerable"] for p in preds]),
            "harm": binary([bool(r["harm"]) for r in rows], [p["harm"] for p in preds])}
           if preds and "vulnerable" in preds[0] else {}),
        "intensity_mae": round(sum(abs(r["intensity"] - p["intensity"])
                                   for r, p in zip(rows, preds, strict=True)) / len(rows), 3),
        "language_tag_accuracy": round(
            sum(r["language"] == p["language"] for r, p in zip(rows, preds, strict=True))
            / len(rows), 3),
    }


def by_language(rows: list[CustomerRow], preds: list[dict[str, Any]],
                vader: list[str]) -> dict[str, Any]:
    """English, every other language, and all non-English together (a language with no
    rows, as in a ``--limit`` run, is left out)."""
    groups: dict[str, Callable[[str], bool]] = {"en": lambda lang: lang == "en",
                                                "non_en": lambda lang: lang != "en"}
    for code in LANGUAGES[1:]:
        groups[code] = lambda lang, c=code: lang == c  # type: ignore[misc]
    out: dict[str, Any] = {}
    for name, keep in groups.items():
        idx = [i for i, r in enumerate(rows) if keep(r["language"])]
        if not idx:
            continue
        res = scores([rows[i] for i in idx], [preds[i] for i in idx], [vader[i] for i in idx])
        if name not in ("en", "non_en"):  # ~6 rows a language: keep the headline figures
            res = {k: res[k] for k in HEADLINE if k in res}
        out[name] = res
    return out


# --------------------------------------------------------------------------- language id


def language_id(rows: list[CustomerRow]) -> dict[str, Any]:
    """Accuracy and µs/message of both detectors on rows of 1-10 words that have letters."""
    from lingua import Language, LanguageDetectorBuilder

    short = [r for r in rows if 1 <= len(r["text"].split()) <= 10 and _LETTER.search(r["text"])]
    texts = [r["text"] for r in short]
    gold = [r["language"] for r in short]
    names = {"en": Language.ENGLISH, "es": Language.SPANISH, "fr": Language.FRENCH,
             "de": Language.GERMAN, "it": Language.ITALIAN, "pt": Language.PORTUGUESE,
             "nl": Language.DUTCH, "pl": Language.POLISH}
    to_code = {v: k for k, v in names.items()}
    t0 = time.perf_counter()
    lingua = (LanguageDetectorBuilder.from_languages(*names.values())
              .with_preloaded_language_models().build())
    lingua_load_s = time.perf_counter() - t0

    def today(t: str) -> str:
        return detect_language(t).code

    def with_lingua(t: str) -> str:
        lang = lingua.detect_language_of(t)
        return to_code[lang] if lang is not None else "und"

    for t in texts[:20]:  # warm both (langdetect profiles, lingua caches)
        today(t)
        with_lingua(t)
    out: dict[str, Any] = {"n": len(short), "lingua_model_load_s": round(lingua_load_s, 2),
                           "lingua_version": _version("lingua-language-detector")}
    for name, fn in (("today_processors_language", today), ("lingua_8_languages", with_lingua)):
        t0 = time.perf_counter()
        pred = [fn(t) for t in texts]
        us = (time.perf_counter() - t0) / len(texts) * 1e6
        ok = [p == g for p, g in zip(pred, gold, strict=True)]
        res: dict[str, Any] = {"accuracy": round(sum(ok) / len(ok), 3), "us_per_message": round(us)}
        for grp, want_en in (("en", True), ("non_en", False)):
            sel = [o for o, g in zip(ok, gold, strict=True) if (g == "en") == want_en]
            res[f"accuracy_{grp}"] = round(sum(sel) / len(sel), 3)
        res["errors"] = [f"{g}->{p}: {t}" for t, g, p, o
                         in zip(texts, gold, pred, ok, strict=True) if not o][:25]
        out[name] = res
    return out


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                    help="dev while developing; the held-out test part once, at the end")
    args = ap.parse_args()
    t_start = time.perf_counter()
    settings = get_settings()
    enricher = Enricher(settings.enrich, warm_language=False)
    before = Enricher(settings.enrich, enricher.analyzer, warm_language=False,
                      use_intensity=False)
    # the same pipeline without the customer-domain calibration, same run (before/after)
    uncalibrated = Enricher(settings.enrich, enricher.analyzer, warm_language=False,
                            calibrate=False)
    result: dict[str, Any] = {
        "what": "today's shipped enrichment (voc classify's Enricher) on the customer-domain "
                "set (training/data/customer, LABELLING.md); rant = a FollowUp was made",
        "model": {"encoder": enricher.model_info.encoder, "version": enricher.model_info.version,
                  "customer_calibration": enricher.calibration is not None},
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "parts": {},
    }
    rows_by_part: dict[str, list[CustomerRow]] = {}
    for part in args.parts:
        rows = rows_by_part[part] = read_jsonl(CUSTOMER_DIR / f"{part}.jsonl")
        t0 = time.perf_counter()
        preds = enrich(enricher, rows)
        enrich_s = time.perf_counter() - t0
        # before issue 19's intensity and cue lists: same models, polarity-driven urgency
        for p, old in zip(preds, enrich(before, rows), strict=True):
            p["rant_before"] = old["rant"]
        vader = vader_labels([r["text"] for r in rows])
        result["parts"][part] = {
            "all": scores(rows, preds, vader), "by_language": by_language(rows, preds, vader),
            "enrich_msgs_per_s": round(len(rows) / enrich_s, 1),
        }
        if enricher.calibration is not None:
            uncal = enrich(uncalibrated, rows)
            result["parts"][part]["without_calibration"] = {
                name: {k: v[k] for k in ("emotion_macro_f1", "emotion_per_label", "topic_micro")}
                for name, v in [("all", scores(rows, uncal, vader)),
                                *by_language(rows, uncal, vader).items()]
                if name in ("all", "en", "non_en")}
    result["language_id_1_to_10_words"] = {part: language_id(rows_by_part[part])
                                           for part in args.parts}
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
