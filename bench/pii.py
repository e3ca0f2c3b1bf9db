"""PII redaction on the labelled corpus (tests/data/pii): the detector beside the regex
version it replaced (bench/redact_baseline.py, a verbatim copy), in the same run.

Prints JSON and writes bench/results/pii.json: recall of PII tokens and the share of hard
negatives altered, per kind and per language, on dev and held-out; CPU µs per message;
and whole-enrichment throughput with each (``--no-enrich`` skips loading the models).
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


def cost_us(texts: list[str], fns: dict[str, Callable[[str], object]],
            rounds: int = 25) -> dict[str, float]:
    """CPU µs per message of each function (process time: the machine is shared, and
    wall time counts other processes' turns): a warm-up pass, then interleaved rounds,
    each side's best round."""
    for fn in fns.values():
        for t in texts:
            fn(t)
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.process_time()
            for t in texts:
                fn(t)
            best[name] = min(best[name], time.process_time() - t0)
    return {name: round(v / len(texts) * 1e6, 1) for name, v in best.items()}


HOSTILE_UNITS = {  # repeated up to the 2 MB input cap
    "digits": "9", "digits_spaced": "1 ", "digits_dashed": "1-", "at_words": "at ",
    "dot_words": "dot ", "local_chars": "!#$%&'*+", "name_cues": "my name is ",
    "titles": "Mr ", "street_words": "Baker ", "password_cues": "password is ",
    "url_params": "?token=", "iban_heads": "GB82 ", "dob_cues": "date of birth ",
    "zwj": "\u200d", "zwsp": "\u200b", "arabic_digits": "\u0661", "ligature": "\ufdfa",
    "angle_brackets": "<", "open_tags": "<a ", "comments": "<!--", "spelled_digits": "oh ",
}


def hostile_cost(max_chars: int = 5000, cap_bytes: int = 2_000_000) -> dict:
    """CPU ms of normalise + redact + reply for each hostile body at the input cap, beside
    an ordinary message (the issue's bound: worst at most 50 ms over normal)."""
    from processors.normalize import clean_and_truncate
    from processors.reply import suggest_reply

    def run(raw: str) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            text, _ = clean_and_truncate(raw, max_chars)
            r = redact(text)
            suggest_reply(r.text, "anger", [])
            best = min(best, time.process_time() - t0)
        return round(best * 1000, 2)

    normal = run("You charged me twice for the same bill this month, call me on 07700 900123")
    rows = {}
    for name, unit in HOSTILE_UNITS.items():
        raw = unit * (cap_bytes // len(unit.encode("utf-8")))
        rows[name] = run(raw)
    worst = max(rows, key=lambda k: rows[k])
    return {"normal_ms": normal, "hostile_ms": rows, "worst": worst,
            "worst_minus_normal_ms": round(rows[worst] - normal, 2)}


def enrichment_impact(texts: list[str], rounds: int = 4, batch: int = 32) -> dict:
    """Whole-enrichment messages per CPU-second with the detector and with the old regexes
    swapped in (same Enricher, same messages, interleaved rounds, each side's best round;
    process CPU time, which counts the encoder's worker threads too)."""
    import processors.pipeline as pipeline
    from processors.config import EnrichConfig
    from processors.redact import Redaction
    from schemas.records import InboundSMS

    items = [InboundSMS.model_validate({
        "message_id": f"B{i}", "from": "+447700900000", "body": t,
        "received_at": "2026-12-01T10:00:00Z", "brand": "acme"}) for i, t in enumerate(texts)]
    enricher = pipeline.Enricher(EnrichConfig())

    def old_redact(text: str) -> Redaction:
        r = redact_baseline.redact(text)
        return Redaction(text=r.text, kinds=r.kinds, detector="baseline")

    best = {"new": 0.0, "baseline": 0.0}
    for _ in range(rounds):
        for name, fn in (("new", redact), ("baseline", old_redact)):
            pipeline.redact = fn  # type: ignore[assignment]
            t0 = time.process_time()
            for i in range(0, len(items), batch):
                enricher.enrich_batch(items[i : i + batch])
            best[name] = max(best[name], len(items) / (time.process_time() - t0))
    pipeline.redact = redact
    return {"messages": len(items), "batch": batch, "rounds": rounds,
            "messages_per_cpu_second": {k: round(v, 1) for k, v in best.items()},
            "new_vs_baseline": round(best["new"] / best["baseline"], 3)}


def real_text_altered() -> dict | None:
    """Share of real customer queries (banking77 test: 3,080 messages with no personal
    data) each redactor changes: over-redaction outside our own corpus."""
    import csv
    import os

    path = Path(os.environ.get("VOC_DATA_DIR", ROOT.parent / "shared" / "data"))
    path = path / "banking77" / "test.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    new = sum(bool(redact(t).kinds) for t in texts)
    old = sum(bool(redact_baseline.redact(t).kinds) for t in texts)
    return {"source": "banking77 test", "messages": len(texts),
            "altered": {"new": round(new / len(texts), 4), "baseline": round(old / len(texts), 4)}}


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
    for corpus_name, corpus in (("pii_corpus", sample), ("ordinary_messages", texts)):
        for name, us in cost_us(corpus, {"new": new, "baseline": old}).items():
            result["cost_us_per_message"].setdefault(name, {})[corpus_name] = us
    result["real_customer_text"] = real_text_altered()
    result["hostile_at_input_cap"] = hostile_cost()
    if "--no-enrich" not in sys.argv:
        result["whole_enrichment"] = enrichment_impact(texts + sample[:128 - len(texts)])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
