"""Per-record cost of the JSON log format (python-json-logger) beside the stdlib text format.

Each variant logs the same records through the full path the worker uses
(``configure_logging``: the scrubbing record factory, ``ScrubFilter``, ``ContextFilter``,
the formatter) into a memory buffer, inside an event context as the agents set it, and
also times the formatter alone on ready records. Variants alternate over several rounds
(text, json, text, json, ...) so machine load hits both alike; the median is reported.

    python bench/log_format.py [--records 20000] [--rounds 5] [--out bench/results/log_format.json]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.logcontext import EventContext, event_context  # noqa: E402
from streams.logging import configure_logging, make_formatter, uninstall_scrubbing  # noqa: E402
from streams.settings import Settings  # noqa: E402

CTX = EventContext(topic="voc.feedback.enriched", partition=3, offset=123456,
                   feedback_id="sms:SM8a1f0c2d")


def full_path_us(fmt: str, n: int) -> float:
    """Microseconds per ``log.info`` with arguments, through factory, filters and formatter."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    buf = io.StringIO()
    configure_logging(Settings(log_format=fmt, log_level="INFO"), stream=buf)
    log = logging.getLogger("streams.agents")
    try:
        with event_context(CTX):
            start = time.perf_counter()
            for i in range(n):
                log.info("indexed %d documents for %s in %.3f s", i, "voc-feedback", 0.0123)
            elapsed = time.perf_counter() - start
    finally:
        uninstall_scrubbing()
        root.handlers, root.level = saved
    assert buf.getvalue().count("\n") == n
    return elapsed / n * 1e6


def formatter_only_us(fmt: str, n: int) -> float:
    """Microseconds per ``Formatter.format`` on a record that already carries the context."""
    formatter = make_formatter(fmt)
    rec = logging.LogRecord("streams.agents", logging.INFO, __file__, 1,
                            "indexed 32 documents for voc-feedback in 0.012 s", (), None)
    for name, value in vars(CTX).items():
        setattr(rec, name, value)
    start = time.perf_counter()
    for _ in range(n):
        formatter.format(rec)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    runs: dict[str, dict[str, list[float]]] = {
        f: {"full_path_us": [], "formatter_only_us": []} for f in ("text", "json")}
    for _ in range(args.rounds):
        for fmt in ("text", "json"):
            runs[fmt]["full_path_us"].append(full_path_us(fmt, args.records))
            runs[fmt]["formatter_only_us"].append(formatter_only_us(fmt, args.records))
    result: dict[str, object] = {
        "records": args.records, "rounds": args.rounds,
        **{fmt: {k: round(statistics.median(v), 2) for k, v in m.items()}
           for fmt, m in runs.items()},
    }
    text, js = result["text"], result["json"]
    assert isinstance(text, dict) and isinstance(js, dict)
    result["json_extra_us_per_record"] = round(js["full_path_us"] - text["full_path_us"], 2)
    out = json.dumps(result, indent=2)
    print(out)
    if args.out:
        args.out.write_text(out + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
