"""The index template against the real local OpenSearch: an enriched document indexes
without mapping errors, text is stemmed (english analyzer), labels/topics facet as keywords.
(The Elasticsearch client path over the same template is in test_search_backends.py.)"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from opensearchpy import OpenSearch

from processors.config import EnrichConfig
from processors.pipeline import Enricher
from schemas.records import InboundSMS
from streams.settings import Settings
from tests.unit.fake_analyzer import FakeAnalyzer

TEMPLATE = Path(__file__).resolve().parents[2] / "schemas/index_template.json"


def test_template_on_real_opensearch(live_stack: Settings) -> None:
    client = OpenSearch(live_stack.search_url, timeout=30)
    alias = f"voc-test-tmpl-{uuid.uuid4().hex[:8]}"
    body = {k: v for k, v in json.loads(TEMPLATE.read_text()).items() if not k.startswith("_")}
    body["index_patterns"] = [f"{alias}-*"]
    body["template"]["aliases"] = {alias: {}}
    body["template"]["settings"]["number_of_replicas"] = 0
    client.indices.put_index_template(name=alias, body=body)
    index = f"{alias}-2026.11"
    try:
        enricher = Enricher(EnrichConfig(), FakeAnalyzer())
        items = [InboundSMS.model_validate({
            "message_id": f"M{i}", "from": "+447700900123", "body": text,
            "received_at": "2026-11-25T18:00:00Z", "brand": "acme", "customer_id": "C1"})
            for i, text in enumerate(["You charged me twice! Cancelling. 07700 900123",
                                      "my parcel never arrived", "thanks, great engineer"])]
        results = enricher.enrich_batch(items, now=datetime(2026, 11, 25, 18, 1, tzinfo=UTC))
        for r in results:
            resp = client.index(index=index, id=r.feedback.id,
                                body=json.loads(r.feedback.model_dump_json()), refresh=True)
            assert resp["result"] in ("created", "updated")
        mapping = client.indices.get_mapping(index=index)[index]["mappings"]
        assert mapping["properties"]["topics"]["properties"]["name"]["type"] == "keyword"

        stemmed = client.search(index=alias, body={"query": {"match": {"text": "charging"}}})
        assert [h["_id"] for h in stemmed["hits"]["hits"]] == ["sms:M0"]
        facets = client.search(index=alias, body={
            "size": 0,
            "aggs": {"topics": {"terms": {"field": "topics.name"}},
                     "sent": {"terms": {"field": "sentiment.label"}},
                     "rants": {"filter": {"term": {"is_rant": True}}}}})
        topics = {b["key"] for b in facets["aggregations"]["topics"]["buckets"]}
        assert {"billing", "delivery", "staff"} <= topics
        assert facets["aggregations"]["rants"]["doc_count"] == sum(
            r.feedback.is_rant for r in results)
        phone = client.search(index=alias, body={"query": {"match_phrase": {"text": "07700"}}})
        assert phone["hits"]["total"]["value"] == 0
    finally:
        client.indices.delete(index=f"{alias}-*", ignore=[404])
        client.indices.delete_index_template(name=alias, ignore=[404])
