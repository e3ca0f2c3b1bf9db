"""Search sink throughput: bulk_index at several batch sizes beside a one-request-per-document
baseline, on the real local OpenSearch (same run, same documents). Prints JSON.

    python bench/search_sink.py [--docs 2000]

Why: the pipeline target needs indexing never to be the bottleneck; this shows how much the
micro-batched bulk path buys over naive per-document indexing, and where it saturates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.records import EnrichedFeedback
from streams.search import index_for, make_backend
from streams.settings import Settings


def docs(n: int, tag: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        rec = EnrichedFeedback(
            id=f"sms:{tag}-{i}", channel="sms", brand="acme-mobile", customer_id=f"C{i % 97}",
            received_at=now - timedelta(seconds=i), enriched_at=now,
            text=f"Message {i}: charged twice for order {i % 13}, nobody answers the phone",
            language="en", sentiment={"label": "negative", "score": -0.7},
            emotion={"label": "anger", "scores": {"anger": 0.6, "disgust": 0.1, "fear": 0.0,
                                                  "joy": 0.0, "neutral": 0.2, "sadness": 0.1,
                                                  "surprise": 0.0}},
            topics=[{"name": "billing", "confidence": 0.9, "evidence": "charged twice"}],
            urgency={"level": "high", "score": 0.7, "reasons": ["angry"]}, is_rant=i % 5 == 0,
            pii={"redacted": False, "kinds": []}, model={"encoder": "bench", "version": "0"})
        out.append(rec.model_dump(mode="json"))
    return out


async def run(n: int) -> dict[str, Any]:
    settings = Settings(search_replicas=0)
    results: dict[str, Any] = {}
    alias = f"voc-bench-{uuid.uuid4().hex[:8]}"
    backend = make_backend(settings, kind="opensearch", alias=alias)
    try:
        await backend.ensure_index()
        # baseline: one index request per document (what a naive sink does)
        base_docs = docs(n // 4, "base")
        t0 = time.perf_counter()
        for d in base_docs:
            await backend.client.index(index=index_for(alias, d), id=d["id"], body=d)
        dt = time.perf_counter() - t0
        results["baseline_one_request_per_doc"] = {"docs": len(base_docs),
                                                   "docs_per_s": round(len(base_docs) / dt, 1)}
        for batch in (32, 256):
            batch_docs = docs(n, f"b{batch}")
            t0 = time.perf_counter()
            for i in range(0, n, batch):
                res = await backend.bulk_index(batch_docs[i:i + batch])
                assert all(r.ok for r in res)
            dt = time.perf_counter() - t0
            results[f"bulk_index_batch_{batch}"] = {"docs": n, "docs_per_s": round(n / dt, 1)}
        # replaying the same documents (idempotent overwrite by _id)
        again = docs(n, "b256")
        t0 = time.perf_counter()
        for i in range(0, n, 256):
            await backend.bulk_index(again[i:i + 256])
        dt = time.perf_counter() - t0
        results["bulk_index_batch_256_replay"] = {"docs": n, "docs_per_s": round(n / dt, 1)}
        await backend.refresh()
        results["indexed_count"] = await backend.count()
        results["expected_count"] = 2 * n + len(base_docs)
        info = await backend.health()
    finally:
        await backend.drop()
        await backend.close()
    b = results["baseline_one_request_per_doc"]["docs_per_s"]
    results["speedup_batch_32_vs_baseline"] = round(
        results["bulk_index_batch_32"]["docs_per_s"] / b, 1)
    results["speedup_batch_256_vs_baseline"] = round(
        results["bulk_index_batch_256"]["docs_per_s"] / b, 1)
    return {"bench": "search_sink", "engine": f"{info.get('distribution')} {info.get('version')}",
            "host": platform.node(), "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "results": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.docs)), indent=2))


if __name__ == "__main__":
    main()
