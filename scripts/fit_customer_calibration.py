"""Fit the customer-domain calibration (processors/calibration.py) on the customer set.

Why a script: ``make train`` reproduces ``processors/models/customer_calibration.json``
from the shipped heads and ``training.customer_set.load("train")``; dev is only scored
(before/after per label, printed and written to bench/results/customer_calibration_fit.json);
the test part is never read. Deterministic (lbfgs,
no sampling). Run after the heads change: the file is tied to their version.
    PYTHONPATH=. python scripts/fit_customer_calibration.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.config import DEFAULT_ENCODER, MINILM_ID, ModelConfig  # noqa: E402
from processors.encoder import EncoderAnalyzer  # noqa: E402
from processors.model_files import bundle_dir, calibration_file  # noqa: E402
from processors.redact import redact  # noqa: E402
from processors.taxonomy import SubjectMatcher, load_taxonomy  # noqa: E402
from schemas.labels import EMOTION_LABELS  # noqa: E402
from training.customer_set import CustomerRow, load  # noqa: E402

REPORT = ROOT / "bench" / "results" / "customer_calibration_fit.json"
GROUP_C = 30.0  # inverse L2 strength of the vulnerability / harm layers: 3-100 tried on dev
#: a vulnerability or harm kind needs this many train rows to be named on its own
GROUP_MIN_ROWS = 8
GROUP_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
EMOTION_C = 10.0  # inverse L2 strength; 0.3-10 tried on dev, 10 best (docs/models.md)
# topics' inverse L2 strength; e5 dev micro-F1: C 3 -> 0.695, 30 -> 0.764, 100 -> 0.80,
# 300 -> 0.805, 1000 -> 0.792 (MiniLM's file was fitted with 10)
TOPIC_C = 100.0
# P(topic) for a meaning-only tag: per topic, the F1-best of these on 5-fold
# out-of-fold train predictions (in-sample probabilities are overconfident)
TOPIC_THRESHOLDS = (0.4, 0.5, 0.6, 0.7)


def _prf(gold: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    tp, fp, fn = int((gold & pred).sum()), int((~gold & pred).sum()), int((gold & ~pred).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return round(p, 3), round(r, 3), round(2 * p * r / (p + r), 3) if p + r else 0.0


def _features(analyzer: EncoderAnalyzer, matcher: SubjectMatcher, rows: list[CustomerRow]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings, log GoEmotions probs, best example cosine and keyword hit per topic."""
    texts = [redact(r["text"]).text for r in rows]
    sig = analyzer.analyze(texts)
    emb = np.stack([s.embedding for s in sig]).astype(np.float32)
    logp = np.log(np.array([[s.emotion[lab] for lab in EMOTION_LABELS] for s in sig]) + 1e-9)
    assert matcher._examples is not None
    sims = emb @ matcher._examples.T
    n = len(matcher.names)
    best = np.stack([sims[:, matcher._example_subject == i].max(1) for i in range(n)], 1)
    kw = np.array([[i in matcher._keyword_hits(t) for i in range(n)] for t in texts])
    return emb, logp, best, kw


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--encoder", default=DEFAULT_ENCODER,
                    help=f"encoder whose heads to calibrate (default {DEFAULT_ENCODER})")
    ap.add_argument("--out", type=Path, default=None,
                    help="default: the encoder's folder (processors/model_files.py)")
    ap.add_argument("--report", type=Path, default=REPORT,
                    help="train/dev precision, recall, F1 before and after (JSON)")
    args = ap.parse_args()
    out_path = args.out or calibration_file(args.encoder)
    tag = bundle_dir(args.encoder).name
    report_path = args.report if args.encoder in (None, MINILM_ID) or args.report != REPORT else \
        REPORT.with_name(f"customer_calibration_fit.{tag}.json")
    analyzer = EncoderAnalyzer(ModelConfig(encoder=args.encoder))
    matcher = SubjectMatcher(load_taxonomy(), analyzer)
    names = matcher.names
    parts = {p: load(p) for p in ("train", "dev")}
    feats = {p: _features(analyzer, matcher, rows) for p, rows in parts.items()}
    report: dict[str, object] = {}

    # emotion: multinomial logistic layer on [embedding, log GoEmotions probs]
    gold = {p: np.array([EMOTION_LABELS.index(r["emotion"]) for r in rows])
            for p, rows in parts.items()}
    x = {p: np.hstack([f[0], f[1]]) for p, f in feats.items()}
    emo = LogisticRegression(C=EMOTION_C, class_weight="balanced", max_iter=5000)
    emo.fit(x["train"], gold["train"])
    # sklearn drops classes absent from train; the file always carries all labels
    w = np.zeros((len(EMOTION_LABELS), x["train"].shape[1]))
    b = np.full(len(EMOTION_LABELS), -30.0)
    for row, k in enumerate(emo.classes_):
        w[k], b[k] = emo.coef_[row], emo.intercept_[row]
    def macro(p: str, pred: np.ndarray) -> float:
        return float(np.mean([_prf(gold[p] == k, pred == k)[2]
                              for k in range(len(EMOTION_LABELS))]))
    dev_before = macro("dev", feats["dev"][1].argmax(1))
    dev_after = macro("dev", (x["dev"] @ w.T + b).argmax(1))
    # heads that learned from the customer set already fit it: keep the layer only if it helps
    keep_emotion = dev_after > dev_before
    report["emotion_dev_macro_f1"] = {"before": round(dev_before, 3),
                                      "after": round(dev_after, 3), "kept": keep_emotion}
    for p in ("train", "dev"):
        before = feats[p][1].argmax(1)
        after = (x[p] @ w.T + b).argmax(1)
        report[f"emotion_{p}"] = {
            lab: {"before": _prf(gold[p] == k, before == k),
                  "after": _prf(gold[p] == k, after == k)}
            for k, lab in enumerate(EMOTION_LABELS)}

    # topics: one logistic head per topic on [embedding, best example cosine, keyword hit]
    topics: dict[str, dict[str, object]] = {}
    tgold = {p: np.array([[n in r["topics"] for n in names] for r in rows])
             for p, rows in parts.items()}
    preds = {p: np.zeros_like(tgold[p]) for p in parts}
    for i, name in enumerate(names):
        def xt(p: str, i: int = i) -> np.ndarray:
            emb, _, best, kw = feats[p]
            return np.hstack([emb, best[:, i:i + 1], kw[:, i:i + 1].astype(np.float32)])
        y = tgold["train"][:, i]
        if y.sum() < 3:
            continue
        m = LogisticRegression(C=TOPIC_C, max_iter=5000)
        oof = cross_val_predict(m, xt("train"), y, cv=StratifiedKFold(5, shuffle=True,
                                random_state=0), method="predict_proba")[:, 1]
        kw = feats["train"][3][:, i]
        threshold = max(TOPIC_THRESHOLDS, key=lambda t: (_prf(y, (oof >= t) | kw)[2], t))
        m.fit(xt("train"), y)
        topics[name] = {"weight": [round(float(v), 6) for v in m.coef_[0]],
                        "bias": round(float(m.intercept_[0]), 6), "threshold": threshold}
        for p in parts:
            preds[p][:, i] = (m.predict_proba(xt(p))[:, 1] >= threshold) | feats[p][3][:, i]
    for p in parts:
        report[f"topics_{p}_micro"] = {"keywords_only": _prf(tgold[p], feats[p][3]),
                                       "with_heads": _prf(tgold[p], preds[p])}

    # vulnerability and harm: which kind the meaning suggests (none / kinds / other)
    groups: dict[str, dict[str, object]] = {}
    for group in ("vulnerability", "harm"):
        def kind_of(r: CustomerRow, kinds: list[str], group: str = group) -> int:
            found: list[str] = r[group]  # type: ignore[literal-required]
            if not found:
                return 0
            return kinds.index(found[0]) if found[0] in kinds else kinds.index("other")
        counts: dict[str, int] = {}
        for r in parts["train"]:
            for k in r[group]:  # type: ignore[literal-required]
                counts[k] = counts.get(k, 0) + 1
        kinds = ["none", *sorted(k for k, c in counts.items() if c >= GROUP_MIN_ROWS), "other"]
        y = {p: np.array([kind_of(r, kinds) for r in rows]) for p, rows in parts.items()}
        gm = LogisticRegression(C=GROUP_C, class_weight="balanced", max_iter=5000)
        oof = cross_val_predict(gm, feats["train"][0], y["train"], cv=StratifiedKFold(
            5, shuffle=True, random_state=0), method="predict_proba")
        any_gold = y["train"] > 0
        threshold = max(GROUP_THRESHOLDS,
                        key=lambda t: (_prf(any_gold, (1 - oof[:, 0]) >= t)[2], t))
        gm.fit(feats["train"][0], y["train"])
        gw = np.zeros((len(kinds), feats["train"][0].shape[1]))
        gb = np.full(len(kinds), -30.0)
        for row, k in enumerate(gm.classes_):
            gw[k], gb[k] = gm.coef_[row], gm.intercept_[row]
        groups[group] = {"kinds": kinds, "threshold": threshold,
                         "weight": [[round(float(v), 6) for v in r] for r in gw],
                         "bias": [round(float(v), 6) for v in gb]}
        for p in parts:
            z = feats[p][0] @ gw.T + gb
            prob = np.exp(z - z.max(1, keepdims=True))
            prob /= prob.sum(1, keepdims=True)
            report[f"{group}_{p}_any"] = _prf(y[p] > 0, (1 - prob[:, 0]) >= threshold)

    # the taxonomy YAML's similarity thresholds are in all-MiniLM-L6-v2's cosine: a line
    # from this encoder's message-to-example cosines to MiniLM's, on the train messages
    similarity_map = None
    if args.encoder not in (None, MINILM_ID):
        mini = EncoderAnalyzer(ModelConfig(encoder=MINILM_ID))
        texts = [redact(r["text"]).text for r in parts["train"]]
        examples = [ex for t in load_taxonomy().subjects.values() for ex in t.examples]
        ours = (feats["train"][0] @ np.asarray(analyzer.embed(examples)).T).ravel()
        theirs = (np.asarray(mini.embed(texts)) @ np.asarray(mini.embed(examples)).T).ravel()
        # moment matching (same mean and spread), not a regression line: a regression
        # shrinks towards the mean and would leave the top of the scale unreachable
        slope = theirs.std() / ours.std()
        intercept = theirs.mean() - slope * ours.mean()
        similarity_map = [round(float(slope), 6), round(float(intercept), 6)]
        report["similarity_map"] = {"slope_intercept": similarity_map, "pairs": len(ours),
                                    "correlation": round(float(np.corrcoef(ours, theirs)[0, 1]),
                                                         3)}

    out = {
        "what": "customer-domain calibration, fitted by scripts/fit_customer_calibration.py "
                "on training/data/customer train (see processors/calibration.py)",
        "heads_version": analyzer.version, "dim": int(feats["train"][0].shape[1]),
        "emotion": {"labels": list(EMOTION_LABELS),
                    "weight": [[round(float(v), 6) for v in r] for r in w],
                    "bias": [round(float(v), 6) for v in b]} if keep_emotion else None,
        "topics": topics, "groups": groups, "similarity_map": similarity_map,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out) + "\n", encoding="utf-8")
    text = json.dumps(report, indent=1)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
