"""The per-message budget's cost: the worker's isolated runner beside the same steps inline.

Measured in one process, on the same messages, in interleaved rounds (the machine is
shared): ``streams.budget.IsolatedSteps`` (parse, normalize, redact in the child process,
the worker's way) and ``InlineSteps`` (the same steps in this thread), over batches of
``VOC_BATCH_SIZE`` (32). Reports, per message, the wall time the enrichment thread waits
and the CPU of this process, median over the rounds; and how long the isolated runner
takes to give up a hostile message (12,000 zero-width joiners, which cost seconds to
clean before the normalizer is linear) beside the same message inline, capped. Prints JSON
and appends it to bench/results/budget.json.

Usage: ``python bench/budget.py [--messages N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.pipeline import parse_inbound  # noqa: E402
from streams.budget import (  # noqa: E402
    InlineSteps,
    IsolatedSteps,
    MessageSteps,
    Rejected,
    worker_step,
)
from streams.settings import Settings  # noqa: E402
from streams.types import Source  # noqa: E402
from tests.reliability.messages import make_messages  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "budget.json"


def per_message(steps: MessageSteps, items: list[tuple[bytes, Source]], batch: int
                ) -> tuple[float, float]:
    """(wall ms, this process's CPU ms) per message over ``items`` in batches."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(items), batch):
        steps.run(items[i:i + batch])
    n = len(items)
    return (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000


def hostile() -> bytes:
    return json.dumps({"message_id": "SM-ZWJ", "from": "+447700900123",
                       "body": "a" + "\u200d" * 12_000 + "b", "brand": "acme",
                       "received_at": "2026-11-25T18:00:00Z"}, ensure_ascii=False).encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=640)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    s = Settings()
    step = worker_step(parse_inbound, s.enrich.max_text_chars)
    items: list[tuple[bytes, Source]] = [
        (m.value, "survey" if m.source == "survey" else "sms")
        for m in make_messages(args.messages, "bench", bad_every=0)]
    isolated = IsolatedSteps(step, s.message_budget_s, s.message_budget_wall_s)
    inline = InlineSteps(step, s.message_budget_s)
    isolated.start()
    runs: dict[str, list[tuple[float, float]]] = {"isolated": [], "inline": []}
    try:
        for _ in range(args.rounds):
            for name, steps in (("inline", inline), ("isolated", isolated)):
                runs[name].append(per_message(steps, items, s.batch_size))
        started = time.perf_counter()
        (cut,) = isolated.run([(hostile(), "sms")])
        cut_s = time.perf_counter() - started
    finally:
        isolated.close()
    capped = InlineSteps(step, s.message_budget_s)
    started = time.perf_counter()
    (slow,) = capped.run([(hostile(), "sms")])  # no cut-off inline: the full cost
    inline_s = time.perf_counter() - started
    out: dict[str, Any] = {
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "host": platform.node(),
        "messages": args.messages, "rounds": args.rounds, "batch": s.batch_size,
        "budget_s": s.message_budget_s, "wall_s": s.message_budget_wall_s,
    }
    for name, v in runs.items():
        out[f"{name}_wall_ms_per_msg"] = round(statistics.median(w for w, _ in v), 3)
        out[f"{name}_parent_cpu_ms_per_msg"] = round(statistics.median(c for _, c in v), 3)
    out["hostile_isolated_s"] = round(cut_s, 2)
    out["hostile_isolated_reason"] = cut.reason if isinstance(cut, Rejected) else "parsed"
    out["hostile_inline_s"] = round(inline_s, 2)
    out["hostile_inline_reason"] = slow.reason if isinstance(slow, Rejected) else "parsed"
    print(json.dumps(out))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
