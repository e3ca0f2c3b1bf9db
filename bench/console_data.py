"""Bulk-load realistic console data: N EnrichedFeedback documents into ``voc-feedback`` and
a follow-up document for each rant into ``voc-followups``, through the real bulk API.

    python bench/console_data.py [--docs 200000] [--seed 7] [--clean]

Why: the console's render-time target is stated at 200,000 documents, and the overview's
aggregations (date histogram x sentiment, topic trend, SLA ranges) only show their cost at
that size. Documents are spread over the last 8 days (a daily rhythm, five brands, both
channels, every label; ~15% rants, and an outage spike for one brand in the last hour so
the topic trend has something to show). Every id starts with ``bench-`` so ``--clean``
removes exactly what this script wrote (delete-by-query on the id prefix).

Both aliases get the worker's own templates (``schemas/*template.json``), installed exactly
as ``voc worker`` installs them; follow-up documents go to the month of their
``received_at``, as the worker writes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.indices import AUDIT, DEADLETTERS, FOLLOWUPS, IndexDef  # noqa: E402
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS  # noqa: E402
from streams.search import index_for, make_backend  # noqa: E402
from streams.search.base import load_template  # noqa: E402
from streams.settings import Settings  # noqa: E402

ID_PREFIX = "bench-"
DAYS = 8
BRANDS = {"acme-mobile": 0.35, "globex-energy": 0.25, "initech-bank": 0.2,
          "umbrella-air": 0.12, "hooli-retail": 0.08}
CHANNELS = {"sms": 0.7, "survey": 0.3}
EMOTIONS = EMOTION_LABELS
TOPICS: dict[str, list[str]] = {
    "billing": ["charged twice this month", "my bill went up again", "refund still missing"],
    "delivery": ["parcel never arrived", "courier left it in the rain", "delivery was late"],
    "outage": ["no signal since this morning", "internet down for hours", "the app is down"],
    "staff": ["the agent was rude", "Sam on the phone was brilliant", "nobody called back"],
    "wait_time": ["on hold for 40 minutes", "queue is endless", "waited an hour in store"],
    "product": ["the router keeps rebooting", "great new phone", "screen cracked in a week"],
    "digital": ["cannot log in to the app", "website checkout fails", "password reset loops"],
    "pricing": ["too expensive for what it is", "the new plan is a good deal"],
    "cancellation": ["I want to cancel", "switching to another provider", "close my account"],
}
TOPIC_WEIGHTS = {"billing": 0.2, "delivery": 0.12, "outage": 0.08, "staff": 0.12,
                 "wait_time": 0.12, "product": 0.12, "digital": 0.1, "pricing": 0.08,
                 "cancellation": 0.06}
RANT_SHARE = 0.15
STATES = {"open": 0.5, "claimed": 0.2, "closed": 0.3}
SLA = {"P1": timedelta(hours=1), "P2": timedelta(hours=4), "P3": timedelta(hours=24)}
URGENCY_REASONS = ("angry", "churn threat", "repeat contact", "outage", "vulnerable customer")

def index_mappings(index: IndexDef) -> dict[str, Any]:
    """The worker's own mapping for one of the contract's indices (``schemas/*template.json``)."""
    return dict(load_template("bench", None, index)["template"]["mappings"])


FOLLOWUPS_MAPPINGS = index_mappings(FOLLOWUPS)
DEADLETTERS_MAPPINGS = index_mappings(DEADLETTERS)
AUDIT_MAPPINGS = index_mappings(AUDIT)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _when(rng: random.Random, now: datetime) -> datetime:
    """A time in the last 8 days with a daily rhythm (busy 9-21 h, quiet at night)."""
    while True:
        t = now - timedelta(seconds=rng.random() * DAYS * 86400)
        hour = t.hour + t.minute / 60
        if rng.random() < 0.25 + 0.75 * max(0.0, math.sin(math.pi * (hour - 6) / 18)):
            return t


def feedback_doc(rng: random.Random, i: int, now: datetime) -> dict[str, Any]:
    """One EnrichedFeedback-shaped document (the index template's fields, all labels)."""
    spike = rng.random() < 0.02  # an acme-mobile outage in the last hour
    received = now - timedelta(seconds=rng.random() * 3600) if spike else _when(rng, now)
    brand = "acme-mobile" if spike else _pick(rng, BRANDS)
    channel = "sms" if spike else _pick(rng, CHANNELS)
    rant = spike or rng.random() < RANT_SHARE
    if spike:
        names = ["outage"]
    elif rng.random() < 0.75:
        names = [_pick(rng, TOPIC_WEIGHTS)]
    else:  # a quarter mention two subjects
        names = sorted({_pick(rng, TOPIC_WEIGHTS), _pick(rng, TOPIC_WEIGHTS)})
    topics = [{"name": n, "confidence": round(0.55 + rng.random() * 0.45, 3),
               "evidence": rng.choice(TOPICS[n])} for n in names]
    if rant:
        sentiment, score = "negative", -0.6 - rng.random() * 0.4
        emotion = rng.choice(("anger", "anger", "disgust", "sadness", "fear"))
        level = rng.choice(("high", "critical"))
    else:
        sentiment = rng.choices(SENTIMENT_LABELS, (0.25, 0.4, 0.35))[0]
        score = {"negative": -0.3, "neutral": 0.0, "positive": 0.6}[sentiment] \
            + rng.uniform(-0.2, 0.2)
        emotion = rng.choice(EMOTIONS)
        level = rng.choice(("low", "low", "medium"))
    survey = None
    if channel == "survey":
        kind = rng.choice(("nps", "nps", "csat", "ces"))
        hi = {"nps": 10, "csat": 5, "ces": 7}[kind]
        lo = 0 if kind == "nps" else 1
        base = {"negative": 0.2, "neutral": 0.6, "positive": 0.9}[sentiment]
        survey = {"kind": kind, "score": max(lo, min(hi, round(lo + base * (hi - lo)
                                                               + rng.uniform(-1, 1))))}
    scores = {e: round(rng.random() * 0.2, 3) for e in EMOTIONS}
    scores[emotion] = round(0.5 + rng.random() * 0.5, 3)
    redacted = rng.random() < 0.1
    text = ". ".join(t["evidence"].capitalize() for t in topics)
    if redacted:
        text += ". Call me on [PHONE]"
    return {
        "schema_version": 1, "id": f"{ID_PREFIX}{channel}:{i}", "channel": channel,
        "brand": brand, "customer_id": f"{ID_PREFIX}C{rng.randrange(40_000)}",
        "received_at": _iso(received),
        "enriched_at": _iso(received + timedelta(milliseconds=rng.randrange(50, 900))),
        "text": text, "survey": survey, "language": "en", "language_supported": True,
        "opt_out": False, "truncated": False,
        "sentiment": {"label": sentiment, "score": round(max(-1.0, min(1.0, score)), 3)},
        "emotion": {"label": emotion, "scores": scores},
        "topics": topics,
        "urgency": {"level": level, "score": round(
            {"low": 0.1, "medium": 0.4, "high": 0.7, "critical": 0.9}[level]
            + rng.random() * 0.09, 3),
            "reasons": rng.sample(URGENCY_REASONS, k=2) if rant else []},
        "is_rant": rant,
        "pii": {"redacted": redacted, "kinds": ["phone"] if redacted else []},
        "model": {"encoder": "bench", "version": "0"},
    }


def followup_doc(rng: random.Random, fb: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The follow-up state document the worker keeps for one rant."""
    received = datetime.fromisoformat(fb["received_at"].replace("Z", "+00:00"))
    priority = "P1" if fb["urgency"]["level"] == "critical" else rng.choice(("P2", "P3"))
    created = received + timedelta(seconds=rng.randrange(1, 30))
    due = created + SLA[priority]
    # old rants are mostly closed; recent ones mostly still open
    age_h = (now - received).total_seconds() / 3600
    state = _pick(rng, STATES) if age_h < 48 else rng.choices(
        ("open", "claimed", "closed"), (0.08, 0.04, 0.88))[0]
    agent = rng.choice(("ada", "bob", "cy", "dee"))
    history: list[dict[str, Any]] = []
    last = None
    if state in ("claimed", "closed"):
        history.append({"action_id": f"{fb['id']}-c", "outcome": "claimed", "agent": agent,
                        "at": _iso(created + timedelta(minutes=5)), "note": None})
        last = "claimed"
    if state == "closed":
        history.append({"action_id": f"{fb['id']}-r", "outcome": "resolved", "agent": agent,
                        "at": _iso(created + timedelta(minutes=40)), "note": "called back"})
        last = "resolved"
    return {
        "id": f"followup:{fb['id']}", "feedback_id": fb["id"], "customer_id": fb["customer_id"],
        "brand": fb["brand"], "channel": fb["channel"], "priority": priority,
        "created_at": _iso(created), "due_by": _iso(due), "received_at": fb["received_at"],
        "reasons": fb["urgency"]["reasons"], "summary": fb["text"][:120],
        "suggested_reply": "I'm sorry about this. I'm looking into it now and will call you.",
        "text": fb["text"], "language": "en", "sentiment": fb["sentiment"]["label"],
        "emotion": fb["emotion"]["label"], "urgency": fb["urgency"],
        "topics": [{"name": t["name"], "evidence": t["evidence"]} for t in fb["topics"]],
        "state": state, "last_outcome": last,
        "assignee": agent if state != "open" else None,
        "breached": state != "closed" and due < now,
        "version": 1 + len(history), "history": history,
        "updated_at": history[-1]["at"] if history else _iso(created),
    }


def generate(n: int, seed: int, now: datetime) -> Iterator[tuple[dict[str, Any],
                                                                 dict[str, Any] | None]]:
    rng = random.Random(seed)
    for i in range(n):
        fb = feedback_doc(rng, i, now)
        yield fb, (followup_doc(rng, fb, now) if fb["is_rant"] else None)


async def ensure_followups_index(settings: Settings) -> None:
    """The worker's follow-ups template and alias (idempotent), as ``voc worker`` installs it."""
    backend = make_backend(settings, kind="opensearch", index=FOLLOWUPS)
    try:
        await backend.ensure_index()
    finally:
        await backend.close()


async def _bulk(client: Any, lines: list[str]) -> int:
    resp = await client.bulk(body="\n".join(lines) + "\n", request_timeout=120)
    if resp.get("errors"):
        bad = [it for it in resp["items"] if next(iter(it.values())).get("error")]
        raise RuntimeError(f"{len(bad)} bulk errors, first: {json.dumps(bad[0])[:400]}")
    return len(resp["items"])


async def load(settings: Settings, n: int, seed: int, chunk: int = 4000) -> dict[str, Any]:
    backend = make_backend(settings, kind="opensearch")
    client = backend.client
    fb_alias, fu_alias = settings.search_alias, settings.alias("followups")
    started = time.perf_counter()
    counts = {"feedback": 0, "followups": 0, "rants": 0}
    states: dict[str, int] = {}
    try:
        await backend.ensure_index()
        await ensure_followups_index(settings)
        lines: list[str] = []
        inflight: set[asyncio.Task[int]] = set()
        now = datetime.now(UTC)
        for fb, fu in generate(n, seed, now):
            lines.append(json.dumps({"index": {"_index": index_for(fb_alias, fb),
                                               "_id": fb["id"]}}))
            lines.append(json.dumps(fb))
            counts["feedback"] += 1
            if fu is not None:
                counts["rants"] += 1
                idx = index_for(fu_alias, fu)
                lines.append(json.dumps({"index": {"_index": idx, "_id": fu["id"]}}))
                lines.append(json.dumps(fu))
                counts["followups"] += 1
                states[fu["state"]] = states.get(fu["state"], 0) + 1
            if len(lines) >= chunk * 2:
                if len(inflight) >= 2:  # two bulk requests in flight: the node has 2 cores
                    done, inflight = await asyncio.wait(inflight,
                                                        return_when=asyncio.FIRST_COMPLETED)
                    for t in done:
                        t.result()
                inflight.add(asyncio.create_task(_bulk(client, lines)))
                lines = []
        if lines:
            inflight.add(asyncio.create_task(_bulk(client, lines)))
        for t in inflight:
            await t
        await client.indices.refresh(index=f"{fb_alias},{fu_alias}")
    finally:
        await client.close()
    return {"docs": n, **counts, "followup_states": states, "seed": seed,
            "seconds": round(time.perf_counter() - started, 1)}


async def clean(settings: Settings) -> dict[str, Any]:
    backend = make_backend(settings, kind="opensearch")
    client = backend.client
    out: dict[str, Any] = {}
    try:
        for alias in (settings.search_alias, settings.alias("followups")):
            field = "feedback_id" if alias == settings.alias("followups") else "id"
            try:
                resp = await client.delete_by_query(
                    index=alias, body={"query": {"prefix": {field: ID_PREFIX}}},
                    params={"refresh": "true", "conflicts": "proceed",
                            "request_timeout": 600})
                out[alias] = int(resp.get("deleted", 0))
            except Exception as exc:  # an alias that does not exist has nothing to clean
                if "index_not_found" not in str(exc):
                    raise
                out[alias] = 0
    finally:
        await client.close()
    return {"deleted": out}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--clean", action="store_true", help="delete this script's documents")
    args = ap.parse_args(argv)
    settings = Settings()
    result = asyncio.run(clean(settings) if args.clean else load(settings, args.docs,
                                                                   args.seed))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
