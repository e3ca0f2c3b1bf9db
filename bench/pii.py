"""PII redaction on the labelled corpus (tests/data/pii): the detector beside the regex
version it replaced (bench/redact_baseline.py, a verbatim copy), in the same run.

Prints JSON and writes bench/results/pii.json: recall of PII tokens and the share of hard
negatives altered, per kind and per language, on dev and held-out; cost per message (µs).
A gold token counts as caught when every letter and digit of it was replaced; a hard
negative counts as altered when any character of it was. Both redactors are scored the
same way: their output is aligned back to the input through the placeholders.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import redact_baseline  # noqa: E402

from processors.redact import PLACEHOLDERS, redact  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "pii"
OUT = ROOT / "bench" / "results" / "pii.json"
_PH = re.compile(r"\[(?:{})\]".format("|".join(p[1:-1] for p in PLACEHOLDERS.values())))


def load(split: str) -> list[dict]:
    """One split of the corpus; only this report reads the held-out split."""
    name = {"dev": "dev.jsonl", "heldout": "heldout.jsonl"}[split]
    with (CORPUS / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def altered_mask(original: str, redacted: str) -> list[bool]:
    """Which characters of ``original`` a placeholder replaced (literal pieces between
    placeholders are located in order; the gaps are what was replaced)."""
    pieces = _PH.split(redacted)
    mask = [True] * len(original)
    pos = 0
    for i, piece in enumerate(pieces):
        if i == 0:
            at = 0 if original.startswith(piece) else original.find(piece)
        elif i == len(pieces) - 1 and piece:
            at = original.rfind(piece)
            at = at if at >= pos + 1 else original.find(piece, pos + 1)
        else:
            at = original.find(piece, pos + 1) if piece else pos + 1
        if at < 0:
            break
        for j in range(at, min(at + len(piece), len(original))):
            mask[j] = False
        pos = at + len(piece)
    if len(pieces) == 1:
        mask = [a != b for a, b in zip(original, redacted, strict=False)] + [False] * max(
            0, len(original) - len(redacted))
    return mask


def score(cases: list[dict], fn: Callable[[str], str]) -> dict:
    tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    negs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in cases:
        mask = altered_mask(c["text"], fn(c["text"]))
        for start, end, kind in c["spans"]:
            if c["negative"]:
                hit = any(mask[start:end])
                for key in (f"kind:{kind}", f"lang:{c['lang']}", "all"):
                    negs[key][0] += hit
                    negs[key][1] += 1
                continue
            for tok in re.finditer(r"\S+", c["text"][start:end]):
                idx = [start + tok.start() + k for k, ch in enumerate(tok.group(0)) if ch.isalnum()]
                if not idx:
                    continue
                caught = all(mask[k] for k in idx)
                for key in (f"kind:{kind}", f"lang:{c['lang']}", "all"):
                    tokens[key][0] += caught
                    tokens[key][1] += 1
    return {
        "pii_token_recall": {k: round(v[0] / v[1], 4) for k, v in sorted(tokens.items())},
        "pii_tokens": tokens["all"][1],
        "hard_negatives_altered": {k: round(v[0] / v[1], 4) for k, v in sorted(negs.items())},
        "hard_negatives": negs["all"][1],
    }


def cost_us(texts: list[str], fn: Callable[[str], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        best = min(best, time.perf_counter() - t0)
    return round(best / len(texts) * 1e6, 1)


def main() -> None:
    new: Callable[[str], str] = lambda t: redact(t).text  # noqa: E731
    old: Callable[[str], str] = lambda t: redact_baseline.redact(t).text  # noqa: E731
    result: dict = {"corpus": {}, "cost_us_per_message": {}}
    for split in ("dev", "heldout"):
        cases = load(split)
        result["corpus"][split] = {"cases": len(cases), "new": score(cases, new),
                                   "baseline": score(cases, old)}
    sample = [c["text"] for c in load("dev")]
    ordinary = [line for line in (ROOT / "tests" / "data" / "enrich_cases.jsonl").read_text(
        encoding="utf-8").splitlines() if line][:200]
    texts = [json.loads(x).get("text") or json.loads(x).get("body") or "" for x in ordinary]
    texts = [t for t in texts if isinstance(t, str) and t] or sample
    for name, fn in (("new", new), ("baseline", old)):
        result["cost_us_per_message"][name] = {"pii_corpus": cost_us(sample, fn),
                                               "ordinary_messages": cost_us(texts, fn)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
