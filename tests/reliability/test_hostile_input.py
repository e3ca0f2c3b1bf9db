"""The whole bad-input corpus through a real worker, then a hunt for leaked PII.

* every corpus case ends where the manifest says: dead-lettered with that reason (and its
  original bytes), or enriched and indexed; the worker stays up; metrics count it;
* the planted phones, e-mails and cards appear nowhere downstream: not in the enriched
  topic, not in the follow-ups, not in the index, not in the dead-letter metadata, not
  in the worker's log (raw bytes are grepped, in their written and digits-only forms);
* ``voc search`` with hostile query syntax answers without an error and is not
  interpreted as engine query syntax.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter

import httpx

from streams.deadletter import original_hmac
from tests.data.bad_inputs.corpus import PLANTED, load
from tests.reliability.harness import (
    PSEUDONYM_KEY,
    REPO,
    Scenario,
    metric_sum,
    record_figures,
    wait_until,
)

#: Bigger than the inbound topics' max.message.bytes (2 MiB): Kafka itself refuses these at
#: produce time, so they never reach the worker (parse_inbound's too_large is the backstop).
TOPIC_MAX_BYTES = 2 * 1024 * 1024 - 1024
CORPUS = [c for c in load() if len(c.payload) < TOPIC_MAX_BYTES]
ENRICHED = [c for c in CORPUS if c.expect == "enriched"]
DEAD = [c for c in CORPUS if c.deadletter_reason]


def _needles() -> list[bytes]:
    """Each planted value as written, and as bare digits (phones and cards)."""
    out: list[bytes] = []
    for values in PLANTED.values():
        for v in values:
            out.append(v.encode())
            digits = re.sub(r"\D", "", v)
            if len(digits) >= 9:
                out.append(digits.encode())
    return out


def _index_sources(sc: Scenario) -> list[bytes]:
    base = sc.settings.search_url.rstrip("/")
    httpx.post(f"{base}/{sc.name}/_refresh", timeout=30.0)
    r = httpx.post(f"{base}/{sc.name}/_search", json={"size": 1000, "query": {"match_all": {}}},
                   timeout=60.0)
    r.raise_for_status()
    return [json.dumps(h["_source"], ensure_ascii=False).encode() for h in r.json()["hits"]["hits"]]


def test_bad_input_corpus_end_to_end_and_no_pii_leaks(scenario: Scenario) -> None:
    worker = scenario.add_worker().start()
    worker.wait_healthy()
    producer = scenario.producer()
    try:
        for c in CORPUS:
            topic = scenario.topic("survey_replies" if c.source == "survey" else "sms_inbound")
            producer.send(topic, value=c.payload, key=c.case.encode())
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=30)

    scenario.wait_for_index(len(ENRICHED), timeout_s=240)
    wait_until(lambda: len(scenario.deadletters()) >= len(DEAD), 120, 2.0,
               what=f"{len(DEAD)} dead letters")
    assert worker.alive and worker.health()[0] == 200, "the worker did not survive the corpus"

    # --- outcomes per case
    # dead letters keep a keyed hash of the original, not the original (the default)
    by_hash = {original_hmac(c.payload, PSEUDONYM_KEY): c for c in CORPUS}
    dead = scenario.deadletters()
    got_reason: dict[str, str] = {}
    for d in dead:
        assert d["original_b64"] == "" and d["original_kept"] is False
        case = by_hash.get(d["original_hmac"])
        assert case is not None, "a dead letter whose original hash is not a corpus payload's"
        got_reason[case.case] = d["reason"]
        assert d["error"], f"{case.case}: dead letter without an error text"
    wrong = {c.case: (c.deadletter_reason, got_reason.get(c.case)) for c in DEAD
             if got_reason.get(c.case) != c.deadletter_reason}
    assert not wrong, f"dead-letter reasons differ from the manifest (expected, got): {wrong}"
    unexpected = set(got_reason) - {c.case for c in DEAD}
    assert not unexpected, f"valid cases dead-lettered: {sorted(unexpected)}"
    ids = scenario.index_ids()
    assert len(ids) == len(ENRICHED) and max(ids.values()) == 1

    metrics = worker.metrics()
    assert metric_sum(metrics, "voc_deadletter_total") == len(dead)
    assert metric_sum(metrics, "voc_messages_in_total") == len(CORPUS)

    # --- PII hunt on the raw bytes of every output
    outputs = {
        "enriched topic": [v for _, v in scenario.read_topic("enriched")],
        "followups topic": [v for _, v in scenario.read_topic("followups")],
        "index": _index_sources(scenario),
        "dead-letter metadata": [json.dumps({k: v for k, v in d.items() if k != "original_b64"})
                                 .encode() for d in dead],
        "worker log": [worker.log_text().encode()],
    }
    leaks = [(where, n.decode()) for where, blobs in outputs.items() for blob in blobs
             for n in _needles() if n in blob]
    assert not leaks, f"planted PII found downstream: {leaks[:10]}"
    # and the message text itself never reaches the log at INFO
    log = worker.log_text()
    assert "Charged twice, furious" not in log and "DROP TABLE" not in log

    pii_docs = [json.loads(s) for s in outputs["index"] if b'"pii"' in s]
    redacted = [d["id"] for d in pii_docs if d["pii"]["redacted"]]
    assert {"sms:SM-pii_everywhere", "survey:R-pii_survey_comment"} <= set(redacted)

    record_figures("bad_input_corpus", {
        "sent": len(CORPUS), "indexed": len(ids), "deadlettered": len(dead),
        "reasons": dict(Counter(got_reason.values())), "pii_leaks": len(leaks),
        "worker_alive": worker.alive})

    # --- hostile queries through the real CLI
    env = dict(worker.env)
    hostile = ['text:* OR _exists_:pii', '*:*', '{"query":{"match_all":{}}}', '" OR 1=1 --',
               "brand:acme AND NOT x", "/.*/", "a" * 5000, "((((((", "]]][[[", "\\", "~!@#$%^&*",
               "<script>alert(1)</script>", "${jndi:ldap://x/a}", "\u202eevil", "😡"]
    total = len(ids)
    for q in hostile:
        run = subprocess.run([sys.executable, "-m", "streams.cli.main", "search", q, "--json",
                              "--size", "1000"], cwd=REPO, env=env, capture_output=True,
                             timeout=60)
        assert run.returncode == 0, f"voc search {q[:40]!r} failed: {run.stderr[-500:]!r}"
        hits = [json.loads(line) for line in run.stdout.decode().splitlines() if line.strip()]
        if q in ("*:*", "text:* OR _exists_:pii", '{"query":{"match_all":{}}}'):
            assert len(hits) < total, f"{q!r} matched everything: parsed as query syntax"
