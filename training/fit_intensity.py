"""Fit the intensity model (processors/intensity.py) on the customer set's train part.

Soft-label logistic regression: each row counts as a positive with weight ``intensity`` and
a negative with weight ``1 - intensity`` (labels are 0/.25/.5/.75/1, LABELLING.md), so the
output is a calibrated mean intensity. Deterministic (lbfgs, no sampling). Reports MAE and
Spearman on dev; never reads the held-out part.

    PYTHONPATH=. python training/fit_intensity.py [--out processors/models/intensity.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from processors.config import DEFAULT_ENCODER, EnrichConfig, ModelConfig
from processors.cues import find_cues
from processors.intensity import FEATURES, IntensityModel, features
from processors.language import detect_language
from processors.model_files import intensity_file
from processors.pipeline import Enricher
from processors.redact import redact
from training.customer_set import CustomerRow, TrainingPart, load


def feature_rows(enricher: Enricher, rows: list[CustomerRow]) -> np.ndarray:
    texts = [redact(r["text"]).text for r in rows]
    sigs = enricher.analyzer.analyze(texts)
    out = []
    for t, s in zip(texts, sigs, strict=True):
        english = detect_language(t).code == "en"
        hits = find_cues(t)
        if enricher.calibration is not None:  # as the runtime does (processors/pipeline.py)
            hits += enricher.calibration.meaning_cues(s.embedding, hits)
        x = features(t, s.sentiment, s.emotion, hits, english)
        out.append([x[f] for f in FEATURES])
    return np.asarray(out, dtype=np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default=DEFAULT_ENCODER,
                    help=f"encoder whose heads feed the model (default {DEFAULT_ENCODER})")
    ap.add_argument("--out", type=Path, default=None,
                    help="default: the encoder's folder (processors/model_files.py)")
    ap.add_argument("--C", type=float, default=1.0)
    args = ap.parse_args()
    out_path = args.out or intensity_file(args.encoder)
    enricher = Enricher(EnrichConfig(model=ModelConfig(encoder=args.encoder)),
                        warm_language=False)
    data: dict[TrainingPart, tuple[np.ndarray, np.ndarray]] = {}
    for part in ("train", "dev"):
        rows = load(part)
        data[part] = (feature_rows(enricher, rows),
                      np.asarray([r["intensity"] for r in rows], dtype=np.float64))
    x, y = data["train"]
    clf = LogisticRegression(C=args.C, max_iter=2000)
    clf.fit(np.vstack([x, x]), np.r_[np.ones(len(y)), np.zeros(len(y))],
            sample_weight=np.r_[y, 1.0 - y] + 1e-6)
    model = IntensityModel(coef=tuple(float(c) for c in clf.coef_[0]),
                           intercept=float(clf.intercept_[0]))
    report = {}
    for part, (xp, yp) in data.items():
        pred = np.asarray([model.predict(dict(zip(FEATURES, row, strict=True))) for row in xp])
        rho = spearmanr(pred, yp).statistic
        report[part] = {"rows": len(yp), "mae": round(float(np.abs(pred - yp).mean()), 4),
                        "spearman": round(float(rho), 4)}
    out = {"features": list(FEATURES), "coef": [round(c, 6) for c in model.coef],
           "intercept": round(model.intercept, 6), "C": args.C,
           "fit": "soft-label logistic regression on training/data/customer train",
           "metrics": report}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
