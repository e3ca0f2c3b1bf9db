"""The labelled PII corpus: its shape, the dev target, and the held-out guard."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "pii"


def _rows(name: str) -> list[dict]:
    return [json.loads(x) for x in (CORPUS / name).read_text(encoding="utf-8").splitlines() if x]


def test_dev_corpus_is_labelled_and_multilingual() -> None:
    rows = _rows("dev.jsonl")
    assert len(rows) >= 280
    assert {r["lang"] for r in rows} == {"en", "es", "fr", "de", "it", "pt", "nl", "pl"}
    for r in rows:
        for start, end, _ in r["spans"]:
            assert 0 <= start < end <= len(r["text"])


def test_held_out_is_read_only_by_the_report() -> None:
    """Nothing that tunes the detector may open the held-out split: only bench/pii.py's
    report names the file (and the corpus writer, which made the split once)."""
    allowed = {ROOT / "bench" / "pii.py", CORPUS / "make_corpus.py",
               Path(__file__).resolve()}
    readers = []
    for folder in ("processors", "streams", "schemas", "scripts", "training", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.resolve() in allowed:
                continue
            if re.search(r"heldout", path.read_text(encoding="utf-8", errors="replace")):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_dev_recall_and_over_redaction_targets() -> None:
    from processors.redact import redact

    caught = total = altered = negatives = 0
    for r in _rows("dev.jsonl"):
        out = redact(r["text"])
        covered = set()
        for sp in out.spans:
            covered.update(range(sp.start, sp.end))
        for start, end, _ in r["spans"]:
            if r["negative"]:
                negatives += 1
                altered += any(i in covered for i in range(start, end))
                continue
            for tok in re.finditer(r"\S+", r["text"][start:end]):
                idx = [start + tok.start() + k for k, ch in enumerate(tok.group(0)) if ch.isalnum()]
                if idx:
                    total += 1
                    caught += all(i in covered for i in idx)
    assert caught / total >= 0.98
    assert altered / negatives <= 0.02
