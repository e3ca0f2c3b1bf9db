"""``voc replay`` against the REAL local Kafka: lines come back on the right topics, with the
right keys and byte-identical values (bad lines included, on the SMS topic, unkeyed)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli.main import cli
from streams.replay import producer_config, read_lines, replay
from streams.settings import Settings
from streams.topics import create_topics, delete_topics, kafka_client_kwargs

pytestmark = pytest.mark.integration

GOOD_SMS = [
    {"message_id": f"SM{i}", "from": f"+44770090{i:04d}", "to": "+447700900000",
     "body": f"message {i}", "received_at": "2026-11-25T18:00:00Z", "brand": "acme-mobile"}
    for i in range(6)
]
SURVEYS = [
    {"response_id": f"R{i}", "survey_id": "S1", "customer_id": f"C{i}", "brand": "acme-mobile",
     "submitted_at": "2026-11-25T18:00:00Z", "kind": "nps", "score": i, "comment": "ok"}
    for i in range(4)
]
BAD = [b"{not json", b'{"body": "no id at all"}', b"\xff\xfe invalid utf-8", b"[1,2,3]"]


@pytest.fixture()
def prefixed(unique_name: str) -> Iterator[Settings]:
    s = Settings(topic_prefix=f"{unique_name}.")
    try:
        create_topics(s)
    except Exception as exc:  # no skip: the stack must be up
        pytest.fail(f"Kafka not reachable at {s.kafka_bootstrap} ({exc}): run `voc stack up`")
    try:
        yield s
    finally:
        delete_topics(s)


def _sample(tmp_path: Path) -> tuple[Path, list[bytes]]:
    lines = [json.dumps(r).encode() for r in GOOD_SMS[:3]]
    lines += [json.dumps(r, ensure_ascii=False).encode() for r in SURVEYS]
    lines += BAD
    lines += [json.dumps(r).encode() for r in GOOD_SMS[3:]]
    lines.append(json.dumps({"message_id": "SM-nofrom", "body": "x"}).encode())
    path = tmp_path / "replies.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    return path, lines


def _consume(settings: Settings, topics: list[str], expect: int, timeout_s: float = 60.0
             ) -> list[tuple[str, bytes | None, bytes]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(*topics, auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=1000,
                             **kafka_client_kwargs(settings))
    got: list[tuple[str, bytes | None, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < expect and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                got.extend((m.topic, m.key, m.value) for m in batch)
    finally:
        consumer.close()
    return got


def test_replay_routes_lines_to_topics_with_keys(prefixed: Settings, tmp_path: Path) -> None:
    from kafka import KafkaProducer

    path, lines = _sample(tmp_path)
    producer = KafkaProducer(**producer_config(prefixed))
    try:
        summary = replay(read_lines(path), producer, prefixed, rate=200)
    finally:
        producer.close()
    sms_t, survey_t = prefixed.topic("sms_inbound"), prefixed.topic("survey_replies")
    assert summary.sent == len(lines) and summary.failed == 0
    assert summary.by_topic == {sms_t: len(lines) - len(SURVEYS), survey_t: len(SURVEYS)}

    got = _consume(prefixed, [sms_t, survey_t], len(lines))
    assert sorted(v for _, _, v in got) == sorted(lines)  # every byte as it was, none extra
    by_value = {v: (t, k) for t, k, v in got}
    for r in GOOD_SMS:
        assert by_value[json.dumps(r).encode()] == (sms_t, r["from"].encode())
    for r in SURVEYS:
        assert by_value[json.dumps(r).encode()] == (survey_t, r["response_id"].encode())
    for b in BAD:
        assert by_value[b] == (sms_t, None)
    assert by_value[json.dumps({"message_id": "SM-nofrom", "body": "x"}).encode()] == (
        sms_t, b"SM-nofrom")


def test_cli_replay_prints_a_summary(prefixed: Settings, tmp_path: Path) -> None:
    path, lines = _sample(tmp_path)
    res = CliRunner().invoke(cli, ["replay", str(path), "--topic-prefix", prefixed.topic_prefix,
                                   "--json", "--quiet", "--limit", "5"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["sent"] == 5 and summary["failed"] == 0
    assert summary["by_kind"] == {"sms": 3, "survey": 2}
    got = _consume(prefixed, [prefixed.topic("sms_inbound"), prefixed.topic("survey_replies")], 5)
    assert sorted(v for _, _, v in got) == sorted(lines[:5])
