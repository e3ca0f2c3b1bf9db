"""The console's overview, dead-letter and alert-history requests against the REAL local
OpenSearch, through the console's own search seam (``EngineSearch``).

Each test indexes documents it builds (feedback through the real ``EnrichedFeedback``
model) into its own aliases and deletes them afterwards, so the exact counts the parsers
return can be asserted.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.records import EnrichedFeedback
from streams.console.alerts import history_body, parse_history
from streams.console.context import EngineSearch
from streams.console.deadletters import (
    list_body,
    parse_dl_filters,
    parse_list,
    parse_status,
    status_body,
)
from streams.console.overview import (
    feedback_body,
    followups_body,
    parse_feedback,
    parse_filters,
    parse_followups,
)
from streams.search import make_backend
from streams.search.base import load_template
from streams.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from console_data import (  # noqa: E402
    AUDIT_MAPPINGS,
    DEADLETTERS_MAPPINGS,
    FOLLOWUPS_MAPPINGS,
)

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
TAG = uuid.uuid4().hex[:8]
BRAND_A, BRAND_B = f"itest-{TAG}-a", f"itest-{TAG}-b"


def fb(n: int, brand: str, ago: timedelta, sentiment: str, topics: tuple[str, ...],
       *, rant: bool = False, channel: str = "sms",
       survey: tuple[str, int] | None = None) -> dict[str, Any]:
    at = NOW - ago
    rec = EnrichedFeedback(
        id=f"{channel}:{TAG}-{n}", channel=channel, brand=brand, customer_id=f"C{n}",
        received_at=at, enriched_at=at + timedelta(seconds=1), text=f"message {n}",
        survey={"kind": survey[0], "score": survey[1]} if survey else None, language="en",
        sentiment={"label": sentiment, "score": -0.8 if sentiment == "negative" else 0.3},
        emotion={"label": "anger" if rant else "joy",
                 "scores": {"anger": 0.7, "disgust": 0.0, "fear": 0.0, "joy": 0.3,
                            "neutral": 0.0, "sadness": 0.0, "surprise": 0.0}},
        topics=[{"name": t, "confidence": 0.9, "evidence": "x"} for t in topics],
        urgency={"level": "critical" if rant else "low", "score": 0.9 if rant else 0.1,
                 "reasons": []},
        is_rant=rant, pii={"redacted": False, "kinds": []},
        model={"encoder": "test", "version": "0"})
    return rec.model_dump(mode="json")


M = timedelta(minutes=1)
FEEDBACK = [
    # brand A, the last hour: 6 messages
    fb(1, BRAND_A, 5 * M, "negative", ("outage",), rant=True),
    fb(2, BRAND_A, 10 * M, "negative", ("outage", "billing"), rant=True),
    fb(3, BRAND_A, 20 * M, "negative", ("outage",)),
    fb(4, BRAND_A, 30 * M, "neutral", ("outage",), channel="survey", survey=("nps", 6)),
    fb(5, BRAND_A, 40 * M, "neutral", ("billing",), channel="survey", survey=("nps", 9)),
    fb(6, BRAND_A, 50 * M, "positive", (), channel="survey", survey=("csat", 4)),
    # brand A, the hour before: 2 messages
    fb(7, BRAND_A, 70 * M, "negative", ("outage", "billing")),
    fb(8, BRAND_A, 100 * M, "neutral", ("billing",)),
    # brand A, three hours ago: outside both periods of "last hour"
    fb(9, BRAND_A, 180 * M, "negative", ("outage",)),
    # brand B, the last hour: 3 messages
    fb(10, BRAND_B, 15 * M, "positive", ("staff",)),
    fb(11, BRAND_B, 25 * M, "positive", ("staff",)),
    fb(12, BRAND_B, 35 * M, "negative", ("delivery",), rant=True),
]


def followup(n: int, brand: str, state: str, due_in: timedelta) -> dict[str, Any]:
    return {"id": f"followup:{TAG}-{n}", "feedback_id": f"{TAG}-{n}", "brand": brand,
            "channel": "sms", "priority": "P1", "state": state,
            "created_at": (NOW - timedelta(hours=1)).isoformat(),
            "due_by": (NOW + due_in).isoformat(), "version": 1, "breached": False}


FOLLOWUPS = [
    followup(1, BRAND_A, "open", -10 * M),
    followup(2, BRAND_A, "open", -2 * M),
    followup(3, BRAND_A, "open", 30 * M),
    followup(4, BRAND_A, "claimed", 3 * 60 * M),
    followup(5, BRAND_A, "closed", -60 * M),  # closed: never counted
    followup(6, BRAND_B, "open", -5 * M),
]


@pytest.fixture
async def indices(live_stack: Settings) -> AsyncIterator[tuple[Settings, dict[str, str]]]:
    backend = make_backend(live_stack, kind="opensearch")
    client = backend.client
    aliases = {k: f"voc-itest-{TAG}-{k}" for k in ("fb", "fu", "dl", "audit")}
    mappings = {"fb": load_template(aliases["fb"])["template"]["mappings"],
                "fu": FOLLOWUPS_MAPPINGS, "dl": DEADLETTERS_MAPPINGS, "audit": AUDIT_MAPPINGS}
    try:
        for key, alias in aliases.items():
            await client.indices.create(index=f"{alias}-{NOW:%Y.%m}", body={
                "settings": {"number_of_shards": 1, "number_of_replicas": 0},
                "mappings": mappings[key], "aliases": {alias: {}}})
        settings = live_stack.model_copy(update={
            "search_alias": aliases["fb"], "search_followups_alias": aliases["fu"],
            "search_deadletters_alias": aliases["dl"], "search_audit_alias": aliases["audit"]})
        yield settings, aliases
    finally:
        for alias in aliases.values():
            await client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)
        await client.close()


async def _index(settings: Settings, alias: str, docs: list[dict[str, Any]],
                 id_key: str = "id") -> None:
    backend = make_backend(settings, kind="opensearch")
    lines = []
    for d in docs:
        lines += [json.dumps({"index": {"_index": f"{alias}-{NOW:%Y.%m}", "_id": d[id_key]}}),
                  json.dumps(d)]
    try:
        resp = await backend.client.bulk(body="\n".join(lines) + "\n", refresh="true")
        assert not resp["errors"], json.dumps(resp)[:500]
    finally:
        await backend.client.close()


async def test_overview_feedback_aggregations(indices: tuple[Settings, dict[str, str]]) -> None:
    settings, aliases = indices
    await _index(settings, aliases["fb"], FEEDBACK)
    search = EngineSearch(settings)
    try:
        f = parse_filters({"period": "1h", "brand": BRAND_A})
        s = parse_feedback(await search.search(aliases["fb"], feedback_body(f, NOW)))
        assert (s.volume, s.previous_volume, s.rants) == (6, 2, 2)
        assert s.rant_rate == pytest.approx(2 / 6)
        assert s.sentiment == {"negative": 3, "neutral": 2, "positive": 1}
        assert dict(s.emotions) == {"anger": 2, "joy": 4}
        assert (s.nps, s.nps_n) == (7.5, 2)
        assert (s.csat, s.csat_n) == (4.0, 1)
        trend = {t.name: (t.count, t.previous) for t in s.topics}
        assert trend == {"outage": (4, 1), "billing": (2, 2)}
        assert s.topics[0].name == "outage" and s.topics[0].change_pct == 300.0
        # the histogram covers the whole hour in 2-minute steps and holds every message
        assert 30 <= len(s.over_time) <= 31
        assert sum(b.total for b in s.over_time) == 6
        assert sum(b.counts.get("negative", 0) for b in s.over_time) == 3
        # the filter menus list both brands whatever is selected
        assert {BRAND_A, BRAND_B} <= set(s.brands)
        assert set(s.channels) == {"sms", "survey"}

        both = parse_feedback(await search.search(
            aliases["fb"], feedback_body(parse_filters({"period": "1h"}), NOW)))
        assert (both.volume, both.rants) == (9, 3)
        sms = parse_feedback(await search.search(aliases["fb"], feedback_body(
            parse_filters({"period": "1d", "brand": BRAND_A, "channel": "sms"}), NOW)))
        assert sms.volume == 6  # messages 1-3 and 7-9
        assert (sms.nps, sms.nps_n) == (None, 0)
    finally:
        await search.close()


async def test_overview_followups_by_sla(indices: tuple[Settings, dict[str, str]]) -> None:
    settings, aliases = indices
    await _index(settings, aliases["fu"], FOLLOWUPS)
    search = EngineSearch(settings)
    try:
        sla = parse_followups(await search.search(
            aliases["fu"], followups_body(parse_filters({"brand": BRAND_A}), NOW)))
        assert sla.counts == {"open": {"overdue": 2, "due_1h": 1, "later": 0},
                              "claimed": {"overdue": 0, "due_1h": 0, "later": 1}}
        every = parse_followups(await search.search(
            aliases["fu"], followups_body(parse_filters({}), NOW)))
        assert every.get("open", "overdue") == 3 and every.total == 5
    finally:
        await search.close()


async def test_deadletter_facets_and_audit_status(
        indices: tuple[Settings, dict[str, str]]) -> None:
    settings, aliases = indices
    dls = [{"id": f"0:{i}", "source_topic": "voc.sms.inbound" if i < 3 else "voc.survey.replies",
            "partition": 0, "offset": i, "key": None,
            "reason": "invalid_json" if i % 2 else "schema_error", "error": "e",
            "preview": f"preview {i}", "size_bytes": 10,
            "failed_at": (NOW - timedelta(minutes=i)).isoformat(), "dl_partition": 0,
            "dl_offset": i} for i in range(5)]
    await _index(settings, aliases["dl"], dls)
    audit = [
        {"id": f"{TAG}a1", "at": (NOW - 2 * M).isoformat(), "actor": "ada", "role": "admin",
         "action": "redrive", "target": "0:1", "detail": "", "result": "failed"},
        {"id": f"{TAG}a2", "at": (NOW - M).isoformat(), "actor": "ada", "role": "admin",
         "action": "redrive", "target": "0:1", "detail": "", "result": "ok"},
        {"id": f"{TAG}a3", "at": NOW.isoformat(), "actor": "bo", "role": "admin",
         "action": "discard", "target": "0:2", "detail": "", "result": "ok"},
        {"id": f"{TAG}a4", "at": NOW.isoformat(), "actor": "alertmanager", "role": "",
         "action": "alert", "target": "VocTopicSpike", "result": "firing",
         "detail": json.dumps({"status": "firing", "severity": "warning",
                               "annotations": {"summary": "spike"}})},
    ]
    await _index(settings, aliases["audit"], audit)
    search = EngineSearch(settings)
    try:
        rows, total, facets = parse_list(await search.search(
            aliases["dl"], list_body(parse_dl_filters({"reason": "invalid_json"}))))
        assert total == 2 and [r.id for r in rows] == ["0:1", "0:3"]  # newest first
        # the reason facet ignores the reason filter; the source facet honours it
        assert dict(facets["reason"]) == {"schema_error": 3, "invalid_json": 2}
        assert dict(facets["source"]) == {"voc.sms.inbound": 1, "voc.survey.replies": 1}
        status = parse_status(await search.search(
            aliases["audit"], status_body(["0:0", "0:1", "0:2"])))
        assert {k: (v.action, v.actor) for k, v in status.items()} == {
            "0:1": ("redrive", "ada"), "0:2": ("discard", "bo")}
        history, count = parse_history(await search.search(aliases["audit"], history_body(0)))
        assert count == 1 and history[0].name == "VocTopicSpike"
        assert (history[0].severity, history[0].summary) == ("warning", "spike")
    finally:
        await search.close()
