"""Train low-rank adapters (LoRA) for every encoder layer together with the heads.

Why: heads on the frozen encoder top out near 0.67 sentiment macro-F1 on TweetEval test
(TRAINING_REPORT.md); tuning one top layer scored worse. LoRA adapts all six layers
with about 0.7 M trainable numbers (a 1-2 MB file), and the runtime merges them into the
encoder weights once at load, so inference costs exactly what it did.

The sentence embedding is shared with topics and search, so a distillation term keeps
it close to the frozen encoder's (cosine to the cached frozen embedding of each text).

Data and validation are those of ``scripts/train_heads.py`` (same splits, same seed);
the heads start from the shipped ones. Nothing from a test split is read.

Usage (``make train`` runs both stages): ``python scripts/train_heads.py all --out-dir
PLAIN`` then ``python scripts/train_adapter.py --init PLAIN/heads.safetensors`` (it reads
the frozen embeddings from the heads cache that ``train_heads.py cache`` builds, or
computes them with the frozen encoder when the cache is absent). About 55 min per epoch
on the idle 2-core machine; ``--device cuda`` runs it on a GPU (about a minute per epoch).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_heads as th  # noqa: E402

from processors.heads import Heads, lora_targets  # noqa: E402
from processors.torch_encoder import load_base, sentence_embedding  # noqa: E402
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS  # noqa: E402
from training.metrics import argmax, emotion_scores  # noqa: E402


class LoRALinear(torch.nn.Module):
    """``base(x) + scale * x A^T B^T``: the frozen layer plus a trainable rank-r update."""

    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.A = torch.nn.Parameter(torch.randn(rank, base.in_features)
                                    / math.sqrt(base.in_features))
        self.B = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        self.drop = torch.nn.Dropout(0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.drop(x) @ self.A.T @ self.B.T) * self.scale


def add_lora(model: torch.nn.Module, rank: int, alpha: float) -> dict[str, LoRALinear]:
    """Wrap every targeted Linear (see processors.heads.lora_targets); base weights frozen."""
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped: dict[str, LoRALinear] = {}
    for name in lora_targets(model):
        parent_name, attr = name.rsplit(".", 1)
        parent = model.get_submodule(parent_name)
        lora = LoRALinear(getattr(parent, attr), rank, alpha)
        setattr(parent, attr, lora)
        wrapped[name] = lora
    return wrapped


@torch.inference_mode()
def frozen_embeddings(tok, model: torch.nn.Module, texts: list[str], max_length: int,
                      device: str, batch: int = 256) -> np.ndarray:
    """Sentence embeddings of the unadapted encoder (what the heads cache holds)."""
    out = np.zeros((len(texts), model.config.hidden_size), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for a in range(0, len(order), batch):
        idx = order[a : a + batch]
        enc = tok([texts[i] for i in idx], padding=True, truncation=True,
                  max_length=max_length, return_tensors="pt").to(device)
        hidden = model(**enc).last_hidden_state
        out[idx] = sentence_embedding(hidden, enc["attention_mask"]).float().cpu().numpy()
    return out


def top_from_heads(heads: Heads) -> th.Top:
    """Torch heads initialised from a heads file (warm start)."""
    query, fc1 = heads.sentiment.params["query"][0], heads.sentiment.params["fc1_weight"][0]
    top = th.Top(heads.dim, k=query.shape[0], hidden=fc1.shape[0])
    top.sentiment.load_head(heads.sentiment)
    top.emotion.load_head(heads.emotion)
    return top


def main() -> None:  # noqa: PLR0915 - one training loop, read top to bottom
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init", type=Path, default=th.MODELS / "heads.safetensors",
                    help="plain heads to start from (train_heads.py's output)")
    ap.add_argument("--out-dir", type=Path, default=th.MODELS,
                    help="where heads.safetensors and adapter_result.json go")
    # defaults: the shipped recipe (heads-20261126-s13-lora16, TRAINING_REPORT.md)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--head-lr", type=float, default=2e-4)
    ap.add_argument("--distill", type=float, default=0.5,
                    help="weight of (1 - cosine to the frozen embedding)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=600, help="steps between validations")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=0, help="stop early (timing runs)")
    ap.add_argument("--seed", type=int, default=th.SEED,
                    help="LoRA init, dropout and batch order (the data splits keep theirs)")
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    ap.add_argument("--encoder", default=None,
                    help="encoder id or path (default: the bundled all-MiniLM-L6-v2)")
    args = ap.parse_args()
    th.seed_all(args.seed)
    torch.set_num_threads(args.threads)
    dev = args.device
    tok, model = load_base(args.encoder)
    model.float().to(dev)
    heads0 = Heads.load(args.init)
    if heads0.lora:
        raise SystemExit(f"{args.init} already adapts the encoder: start from plain heads "
                         "(scripts/train_heads.py all --out-dir DIR)")
    layer = heads0.feature_layer
    splits = th.training_sets(full_semeval=True, customer=True)
    frozen = {}
    for n in splits:
        cached = th.CACHE / f"{n}.L{layer}.npz"
        if cached.exists():
            frozen[n] = np.load(cached)["emb"]
        else:
            t = time.time()
            frozen[n] = frozen_embeddings(tok, model, splits[n].texts, args.max_length, dev)
            print(f"frozen embeddings: {n} {len(splits[n].texts)} texts {time.time() - t:.0f}s",
                  flush=True)
    loras = add_lora(model, args.rank, args.alpha)
    model.to(dev)  # the new A, B parameters too
    top = top_from_heads(heads0).to(dev)
    tweet_sets = ["semeval", "semeval_rest"]
    sent_sets = [*tweet_sets, "banking_train"]
    train_names = [*sent_sets, "goemo_train"]
    loss_weight = {"goemo_train": 0.5, "banking_train": 0.5}
    sent_lab = {n: np.array(splits[n].labels) for n in sent_sets}
    sent_lab["goemo_train"] = np.array(th.group_sentiment("goemo_train"))
    emo_t = np.stack([th.emotion_target(g) for g in splits["goemo_train"].gold_sets or []])
    s_counts = sum(np.bincount(sent_lab[n], minlength=3) for n in tweet_sets).astype(float)
    w_s, w_e = th.class_weights(s_counts), th.class_weights(emo_t.sum(0))
    val_names = ["tweeteval_val", "goemo_dev", "banking_val", "customer_dev"]
    gold_e = splits["goemo_dev"].gold_sets or []

    def encode(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        enc = tok(texts, padding=True, truncation=True, max_length=args.max_length,
                  return_tensors="pt").to(dev)
        out = model(**enc, output_hidden_states=True)
        emb = sentence_embedding(out.last_hidden_state, enc["attention_mask"])
        return out.hidden_states[layer], enc["attention_mask"], emb

    @torch.inference_mode()
    def validate() -> dict[str, float]:
        model.eval()
        top.eval()
        logits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        cos: list[float] = []
        for n in val_names:
            texts = splits[n].texts
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            s_out = np.zeros((len(texts), 3), np.float32)
            e_out = np.zeros((len(texts), 7), np.float32)
            for a in range(0, len(order), 128):
                idx = order[a : a + 128]
                tokens, mask, emb = encode([texts[i] for i in idx])
                s, e = top(tokens, mask, emb)
                s_out[idx], e_out[idx] = s.cpu().numpy(), e.cpu().numpy()
                cos += (emb.cpu().numpy() * frozen[n][idx]).sum(1).tolist()
            logits[n] = (s_out, e_out)
        rec = th.validation_scores(splits, logits)
        rec["embedding_cosine_to_frozen_mean"] = float(np.mean(cos))
        rec["embedding_cosine_to_frozen_p01"] = float(np.percentile(cos, 1))
        rec["_emotion_logits"] = logits["goemo_dev"][1]  # type: ignore[assignment]
        model.train()
        top.train()
        return rec

    rng = np.random.default_rng(args.seed)
    batches: list[tuple[str, list[int]]] = []
    for name in train_names:
        ln = np.array([len(t) for t in splits[name].texts])
        order = np.argsort(ln + rng.random(len(ln)) * 8)
        batches += [(name, order[a : a + args.batch].tolist())
                    for a in range(0, len(order), args.batch)]
    rng.shuffle(batches)  # type: ignore[arg-type]
    total = int(len(batches) * args.epochs)
    if args.max_steps:
        total = min(total, args.max_steps)
    lora_params = [p for m in loras.values() for p in (m.A, m.B)]
    opt = torch.optim.AdamW([{"params": lora_params, "lr": args.lr},
                             {"params": top.parameters(), "lr": args.head_lr}],
                            weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.05 * total)) * max(0.0, 1 - s / total))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict] = []
    best = -1.0
    model.train()
    top.train()
    t0 = time.time()
    for step in range(total):
        name, idx = batches[step % len(batches)]
        tokens, mask, emb = encode([splits[name].texts[i] for i in idx])
        s_logit, e_logit = top(tokens, mask, emb)
        loss = th.task_loss(s_logit, e_logit, sent_lab[name][idx],
                            emo_t[idx] if name == "goemo_train" else None,
                            w_s, w_e, loss_weight.get(name, 1.0))
        target = torch.from_numpy(frozen[name][idx]).to(dev)
        loss = loss + args.distill * (1 - (emb * target).sum(-1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 20 == 0:
            print(f"step {step}/{total} loss {loss.item():.3f} {time.time() - t0:.0f}s",
                  flush=True)
        if (step + 1) % args.eval_every == 0 or step + 1 == total:
            rec = validate()
            e_logits = rec.pop("_emotion_logits")
            rec.update(step=step + 1, seconds=round(time.time() - t0))
            history.append(rec)
            print(f"val {json.dumps(rec)}", flush=True)
            score = rec["tweeteval_val_sentiment_f1"] + rec["goemo_dev_emotion_f1"]
            if score > best:
                best = score
                off_e = th.fit_offsets(e_logits, lambda p: emotion_scores(gold_e, p)["macro_f1"])
                lora = {name: ((m.A.detach() * m.scale).cpu().numpy().copy(),
                               m.B.detach().cpu().numpy().copy()) for name, m in loras.items()}
                heads = Heads(
                    sentiment=top.sentiment.export(SENTIMENT_LABELS, np.zeros(3, np.float32)),
                    emotion=top.emotion.export(EMOTION_LABELS, off_e),
                    feature_layer=layer, lora=lora,
                    meta={**heads0.meta, "lora_rank": str(args.rank),
                          "version": f"{heads0.version}-lora{args.rank}"})
                heads.save(args.out_dir / "heads.safetensors")
                (args.out_dir / "adapter_result.json").write_text(json.dumps(
                    {"version": heads.version, "init": heads0.version, "seed": args.seed,
                     "args": {k: str(v) for k, v in vars(args).items()}, "best_step": step + 1,
                     "trainable_lora_numbers": sum(p.numel() for p in lora_params),
                     "emotion_offsets": [round(float(x), 2) for x in off_e],
                     "goemo_dev_emotion_f1_after_offsets": emotion_scores(
                         gold_e, argmax(e_logits + off_e))["macro_f1"],
                     "weights_bytes": (args.out_dir / "heads.safetensors").stat().st_size,
                     "history": history},
                    indent=2) + "\n")
    print(f"done {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
