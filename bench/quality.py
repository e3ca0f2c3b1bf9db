"""Quality benchmark: our heads vs VADER vs a zero-shot embedding-prototype baseline.

All three run in the same process on the same held-out test splits, none of
which is read by training (scripts/train_heads.py uses SemEval-2013..16,
GoEmotions train, and only the validation splits for selection):
  * TweetEval sentiment test (12,284 tweets, 3 classes);
  * UCI review sentences (2,000, Amazon + Yelp; 2 classes, no neutral by
    construction): every method decides between negative and positive only
    (ours and the prototypes: the larger of the two probabilities/similarities;
    VADER: compound >= 0 is positive); the share each method would have called
    neutral (VADER +-0.05, argmax over 3 for the others) is reported too;
  * 48 customer SMS written for this project (bench/data/customer_sms.tsv;
    3-class sentiment, plus emotion accuracy: too few rows per emotion for F1);
  * GoEmotions Ekman test (5,427 Reddit comments, 7 emotions, multi-label gold;
    scoring rule in training/metrics.py, identical for every method). VADER has
    no emotions, so it has no emotion score.
Prints JSON and writes bench/results/quality.json.

Usage: ``python bench/quality.py [--limit N]`` (``make bench-quality``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.data import customer_sms  # noqa: E402
from processors.config import ModelConfig  # noqa: E402
from processors.encoder import EncoderAnalyzer  # noqa: E402
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS  # noqa: E402
from training import data  # noqa: E402
from training.metrics import argmax, emotion_scores, sentiment_scores  # noqa: E402

# Label descriptions for the zero-shot prototype baseline (cosine to their embeddings).
SENTIMENT_PROTOTYPES: dict[str, list[str]] = {
    "negative": ["This is negative. I am unhappy, angry and disappointed.",
                 "terrible, awful, bad experience, I hate it"],
    "neutral": ["This is neutral. A plain factual statement or question.",
                "just information, no opinion"],
    "positive": ["This is positive. I am happy, pleased and grateful.",
                 "great, excellent, wonderful experience, I love it"],
}
EMOTION_PROTOTYPES: dict[str, list[str]] = {
    "anger": ["I am angry and furious, this is outrageous", "anger, rage, annoyance"],
    "disgust": ["this is disgusting and gross", "disgust, revulsion, contempt"],
    "fear": ["I am scared, afraid and worried", "fear, anxiety, nervousness"],
    "joy": ["I am happy, delighted and thankful", "joy, love, gratitude, amusement"],
    "neutral": ["a plain factual statement without emotion", "neutral, no emotion"],
    "sadness": ["I am sad, heartbroken and disappointed", "sadness, grief, sorrow"],
    "surprise": ["wow, I did not expect that, I am amazed", "surprise, astonishment, shock"],
}


def prototype_matrix(analyzer: EncoderAnalyzer, protos: dict[str, list[str]],
                     labels: tuple[str, ...]) -> np.ndarray:
    """One normalised mean embedding per label, rows in ``labels`` order."""
    rows = []
    for lab in labels:
        e = analyzer.embed(protos[lab]).mean(axis=0)
        rows.append(e / np.linalg.norm(e))
    return np.stack(rows)


def vader_compound(texts: list[str]) -> np.ndarray:
    """VADER compound score per text."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    return np.array([sia.polarity_scores(t)["compound"] for t in texts])


def vader_3class(compound: np.ndarray) -> list[int]:
    """Standard VADER thresholds: >= 0.05 positive, <= -0.05 negative, else neutral."""
    return [2 if c >= 0.05 else 0 if c <= -0.05 else 1 for c in compound]


def run(limit: int | None, heads: Path | None = None) -> dict:
    """Score every method on every test split; returns the JSON-able result.

    ``heads``: a heads file to score instead of the shipped one (a training variant)."""
    t0 = time.time()
    analyzer = EncoderAnalyzer(ModelConfig(heads_path=heads))
    # the fp32 TorchScript encoder, to measure how often the default (int8) changes a label
    fp32 = (EncoderAnalyzer(ModelConfig(runtime="torchscript", heads_path=heads))
            if analyzer.runtime != "torchscript" else None)
    sent_proto = prototype_matrix(analyzer, SENTIMENT_PROTOTYPES, SENTIMENT_LABELS)
    emo_proto = prototype_matrix(analyzer, EMOTION_PROTOTYPES, EMOTION_LABELS)

    def cut(split: data.Split) -> data.Split:
        if not limit:
            return split
        g = split.gold_sets[:limit] if split.gold_sets else None
        return data.Split(split.name, split.texts[:limit], split.labels[:limit], g)

    out: dict = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or "?",
                    "threads": analyzer.config.threads},
        "model": {"encoder": analyzer.name, "heads": analyzer.version,
                  "runtime": analyzer.runtime},
        "emotion_scoring": "argmax vs multi-label gold: scored against the predicted label if "
                           "it is gold, else the first gold label; macro-F1 over 7 classes",
        "sets": {},
        "agreement_with_fp32": {},
    }

    def arrays(a: EncoderAnalyzer, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sig = a.analyze(texts)
        emb = np.stack([s.embedding for s in sig])
        sp = np.array([[s.sentiment[k] for k in SENTIMENT_LABELS] for s in sig])
        ep = np.array([[s.emotion[k] for k in EMOTION_LABELS] for s in sig])
        return emb, sp, ep

    def signals(split: data.Split) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        emb, sp, ep = arrays(analyzer, split.texts)
        if fp32 is not None:
            ref_emb, ref_sp, ref_ep = arrays(fp32, split.texts)
            out["agreement_with_fp32"][split.name] = {
                "sentiment_labels": round(float(np.mean(sp.argmax(1) == ref_sp.argmax(1))), 4),
                "emotion_labels": round(float(np.mean(ep.argmax(1) == ref_ep.argmax(1))), 4),
                "embedding_cosine_min": round(float((emb * ref_emb).sum(1).min()), 4),
                "embedding_cosine_mean": round(float((emb * ref_emb).sum(1).mean()), 4),
            }
        return emb, sp, ep

    # TweetEval sentiment test: 3 classes.
    te = cut(data.tweeteval("test"))
    emb, sp, _ = signals(te)
    vc = vader_compound(te.texts)
    res = {
        "ours": sentiment_scores(te.labels, argmax(sp)),
        "vader": sentiment_scores(te.labels, vader_3class(vc)),
        "prototype": sentiment_scores(te.labels, argmax(emb @ sent_proto.T)),
    }
    res["ours_minus_vader_f1"] = round(res["ours"]["macro_f1"] - res["vader"]["macro_f1"], 4)
    out["sets"]["tweeteval_sentiment_test"] = res

    # UCI sentences: 2 classes (negative=0, positive=2), decision restricted to those two.
    uci = cut(data.uci_sentences())
    emb, sp, _ = signals(uci)
    vc = vader_compound(uci.texts)
    sims = emb @ sent_proto.T
    res = {
        "ours": sentiment_scores(uci.labels, [2 if p[2] >= p[0] else 0 for p in sp], (0, 2)),
        "vader": sentiment_scores(uci.labels, [2 if c >= 0 else 0 for c in vc], (0, 2)),
        "prototype": sentiment_scores(uci.labels, [2 if s[2] >= s[0] else 0 for s in sims],
                                      (0, 2)),
        "would_say_neutral": {
            "ours": round(float(np.mean(np.array(argmax(sp)) == 1)), 4),
            "vader": round(float(np.mean(np.array(vader_3class(vc)) == 1)), 4),
            "prototype": round(float(np.mean(np.array(argmax(sims)) == 1)), 4),
        },
    }
    res["ours_minus_vader_f1"] = round(res["ours"]["macro_f1"] - res["vader"]["macro_f1"], 4)
    out["sets"]["uci_sentences_2class"] = res

    # Customer SMS written for this project: 3-class sentiment, emotion accuracy.
    cs = cut(customer_sms())
    emb, sp, ep = signals(cs)
    vc = vader_compound(cs.texts)
    cs_gold_e = [g[0] for g in cs.gold_sets or []]
    res = {
        "ours": sentiment_scores(cs.labels, argmax(sp)),
        "vader": sentiment_scores(cs.labels, vader_3class(vc)),
        "prototype": sentiment_scores(cs.labels, argmax(emb @ sent_proto.T)),
        "emotion_accuracy": {
            "ours": round(float(np.mean(np.array(argmax(ep)) == cs_gold_e)), 4),
            "prototype": round(float(np.mean(np.array(argmax(emb @ emo_proto.T)) == cs_gold_e)),
                               4),
        },
    }
    res["ours_minus_vader_f1"] = round(res["ours"]["macro_f1"] - res["vader"]["macro_f1"], 4)
    out["sets"]["customer_sms_handwritten"] = res

    # GoEmotions Ekman test: 7 emotions.
    ge = cut(data.goemotions("test"))
    emb, _, ep = signals(ge)
    gold = ge.gold_sets or []
    out["sets"]["goemotions_ekman_test"] = {
        "ours": emotion_scores(gold, argmax(ep)),
        "prototype": emotion_scores(gold, argmax(emb @ emo_proto.T)),
        "vader": None,
        "majority_class_neutral": emotion_scores(
            gold, [EMOTION_LABELS.index("neutral")] * len(gold)),
    }
    s = out["sets"]
    out["targets"] = {
        "sentiment_f1_ge_0.65": all(
            s[k]["ours"]["macro_f1"] >= 0.65
            for k in ("tweeteval_sentiment_test", "customer_sms_handwritten",
                      "uci_sentences_2class")),
        "sentiment_ge_vader_plus_0.15": {
            k: s[k]["ours_minus_vader_f1"] >= 0.15
            for k in ("tweeteval_sentiment_test", "customer_sms_handwritten",
                      "uci_sentences_2class")},
        "emotion_f1_ge_0.55": s["goemotions_ekman_test"]["ours"]["macro_f1"] >= 0.55,
    }
    out["seconds"] = round(time.time() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="quality benchmark")
    ap.add_argument("--limit", type=int, default=None, help="first N rows per set (smoke runs)")
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "quality.json")
    ap.add_argument("--heads", type=Path, default=None,
                    help="score this heads file instead of the shipped one")
    args = ap.parse_args()
    result = run(args.limit, args.heads)
    text = json.dumps(result, indent=2)
    print(text)
    if not args.limit:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
