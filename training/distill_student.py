"""Try a 6-layer student of the shipped encoder: does half the depth keep the quality?

Issue 19 asks, where time allows, for a student initialised from every other layer of the
model and distilled on our data. This builds it from multilingual-e5-small (Latin
vocabulary): the embeddings and layers 1, 3, 5, 7, 9, 11 (0-based; the last one kept), and
trains it for ``--steps`` steps to reproduce the frozen teacher's last-layer token states
(masked mean squared error plus the sentence embeddings' cosine), read from the heads
cache ``make train`` builds (``scripts/train_heads.py cache``): SemEval tweets, GoEmotions
and the customer set's train part. The shipped heads then read the student's states
unchanged. Scored on TweetEval validation, GoEmotions dev and the customer set's dev part
(never test), beside the teacher, with the forward time of each in the same run.

Not shipped: an experiment whose figures go to ``bench/results/student.json``.

    PYTHONPATH=. python training/distill_student.py [--steps 600]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from processors.config import DEFAULT_ENCODER
from processors.e5_files import E5_PREFIX
from processors.heads import Heads
from processors.model_files import heads_file
from processors.torch_encoder import load_base, mean_pool
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS
from training import data
from training.customer_set import load
from training.metrics import argmax, emotion_scores, sentiment_scores

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache/voc-pipeline/heads-cache" / DEFAULT_ENCODER
OUT = ROOT / "bench" / "results" / "student.json"
KEEP = (1, 3, 5, 7, 9, 11)


def student_of(teacher: torch.nn.Module) -> torch.nn.Module:
    """The teacher with only the layers in ``KEEP`` (every other one, the last included)."""
    student = copy.deepcopy(teacher)
    student.encoder.layer = torch.nn.ModuleList(teacher.encoder.layer[i] for i in KEEP)
    student.config.num_hidden_layers = len(KEEP)
    return copy.deepcopy(student)


def cached(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Ragged teacher states (fp16) and their per-text lengths from the heads cache."""
    z = np.load(CACHE / f"{name}.L12.npz")
    return z["states"], z["lengths"].astype(np.int64)


def texts_of(names: tuple[str, ...]) -> dict[str, list[str]]:
    """The texts each cached set was built from, in its order (scripts/train_heads.py);
    the sets are loaded once for all names."""
    import scripts.train_heads as th

    sets = th.training_sets(False, False, True)
    return {name: sets[name].texts for name in names}


def states(model: torch.nn.Module, tok, texts: list[str], bs: int = 64
           ) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Last-layer token states per text, L2-normalised mean embeddings, forward seconds."""
    out: list[np.ndarray] = [np.zeros(0)] * len(texts)
    emb = np.zeros((len(texts), model.config.hidden_size), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    spent = 0.0
    with torch.inference_mode():
        for a in range(0, len(order), bs):
            idx = order[a:a + bs]
            enc = tok([E5_PREFIX + texts[i] for i in idx], padding=True, truncation=True,
                      max_length=128, return_tensors="pt")
            t0 = time.perf_counter()
            last = model(**enc).last_hidden_state
            spent += time.perf_counter() - t0
            pooled = torch.nn.functional.normalize(mean_pool(last, enc["attention_mask"]), dim=-1)
            lens = enc["attention_mask"].sum(1).tolist()
            for j, i in enumerate(idx):
                out[i] = last[j, :lens[j]].numpy()
                emb[i] = pooled[j].numpy()
    return out, emb, spent


def score(heads: Heads, tok_states: list[np.ndarray], emb: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Sentiment and emotion probabilities of the shipped heads on these states."""
    s_out, e_out = [], []
    for i, st in enumerate(tok_states):
        t, m, e = st[None].astype(np.float32), np.ones((1, len(st))), emb[i:i + 1]
        s_out.append(heads.sentiment.probs(t, m, e)[0])
        e_out.append(heads.emotion.probs(t, m, e)[0])
    return np.array(s_out), np.array(e_out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(13)
    random.seed(13)
    torch.set_num_threads(args.threads)
    tok, teacher = load_base(DEFAULT_ENCODER)
    student = student_of(teacher)
    student.train()
    by_set = texts_of(("semeval", "goemo_train", "cs_train"))
    pools = {n: (t, *cached(n)) for n, t in by_set.items()}
    rows = [(n, i) for n, (texts, _, _) in pools.items() for i in range(len(texts))]
    starts = {n: np.concatenate([[0], np.cumsum(ln)[:-1]]) for n, (_, _, ln) in pools.items()}
    opt = torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=0.01)
    t0, history = time.time(), []
    for step in range(args.steps):
        batch = random.sample(rows, args.batch)
        enc = tok([E5_PREFIX + pools[n][0][i] for n, i in batch], padding=True,
                  truncation=True, max_length=128, return_tensors="pt")
        mask = enc["attention_mask"]
        target = torch.zeros((len(batch), mask.shape[1], teacher.config.hidden_size))
        for j, (n, i) in enumerate(batch):
            ln = int(pools[n][2][i])
            a = int(starts[n][i])
            target[j, :ln] = torch.from_numpy(pools[n][1][a:a + ln].astype(np.float32))
        out = student(**enc).last_hidden_state
        m = mask[..., None].float()
        mse = (((out - target) ** 2) * m).sum() / (m.sum() * out.shape[-1])
        cos = torch.nn.functional.cosine_similarity(mean_pool(out, mask),
                                                    mean_pool(target, mask)).mean()
        loss = mse + (1.0 - cos)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            rec = {"step": step, "mse": round(float(mse), 4), "cosine": round(float(cos), 4),
                   "seconds": round(time.time() - t0)}
            history.append(rec)
            print(rec, flush=True)
    student.eval()
    heads = Heads.load(heads_file(DEFAULT_ENCODER))
    sets = {"tweeteval_val": data.tweeteval("val"), "goemo_dev": data.goemotions("dev")}
    cs_dev = load("dev")
    results: dict[str, dict[str, float]] = {}
    for name, model in (("teacher (12 layers)", teacher), ("student (6 layers)", student)):
        rec: dict[str, float] = {}
        spent_total = 0.0
        for set_name, split in sets.items():
            texts = split.texts[:1000]
            st, emb, spent = states(model, tok, texts)
            spent_total += spent
            sp, ep = score(heads, st, emb)
            if set_name == "tweeteval_val":
                rec["tweeteval_val_sentiment_f1_1000"] = sentiment_scores(
                    split.labels[:1000], argmax(sp))["macro_f1"]
            else:
                rec["goemo_dev_emotion_f1_1000"] = emotion_scores(
                    (split.gold_sets or [])[:1000], argmax(ep))["macro_f1"]
        st, emb, spent = states(model, tok, [r["text"] for r in cs_dev])
        spent_total += spent
        sp, ep = score(heads, st, emb)
        rec["cs_dev_sentiment_f1"] = sentiment_scores(
            [SENTIMENT_LABELS.index(r["sentiment"]) for r in cs_dev],
            argmax(sp))["macro_f1"]
        rec["cs_dev_emotion_f1"] = emotion_scores(
            [(EMOTION_LABELS.index(r["emotion"]),) for r in cs_dev], argmax(ep))["macro_f1"]
        rec["forward_seconds_fp32_torch"] = round(spent_total, 2)
        results[name] = rec
        print(name, rec, flush=True)
    t, s = results["teacher (12 layers)"], results["student (6 layers)"]
    report = {
        "what": __doc__.splitlines()[0], "layers_kept": list(KEEP), "steps": args.steps,
        "batch": args.batch, "lr": args.lr, "train_seconds": round(time.time() - t0),
        "history": history, "results": results,
        "student_speed_vs_teacher": round(t["forward_seconds_fp32_torch"]
                                          / s["forward_seconds_fp32_torch"], 2),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
