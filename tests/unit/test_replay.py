"""Replay routing and pacing, without a broker (the integration test uses real Kafka)."""

from pathlib import Path
from typing import Any

from streams.replay import RateLimiter, classify, read_lines, replay, topic_for
from streams.settings import Settings

SMS = b'{"message_id": "SM1", "from": "+447700900123", "body": "hi", "brand": "b"}'
SMS_NO_FROM = b'{"message_id": 42, "body": "hi"}'
SURVEY = b'{"response_id": "R9", "survey_id": "S1", "score": 3}'


def test_sms_is_keyed_by_sender_then_message_id() -> None:
    assert classify(SMS).kind == "sms" and classify(SMS).key == b"+447700900123"
    assert classify(SMS_NO_FROM).key == b"42"


def test_survey_is_keyed_by_response_id() -> None:
    r = classify(SURVEY)
    assert r.kind == "survey" and r.key == b"R9"


def test_unclassifiable_lines_are_unknown_and_unkeyed() -> None:
    for line in (b"{not json", b"[1, 2]", b'"text"', b'{"body": "no id"}', b"\xff\xfe\x00",
                 b"null"):
        r = classify(line)
        assert r.kind == "unknown" and r.key is None, line


def test_unknown_goes_to_sms_inbound_and_prefix_applies() -> None:
    s = Settings(topic_prefix="t1.")
    assert topic_for("sms", s) == "t1.voc.sms.inbound"
    assert topic_for("unknown", s) == "t1.voc.sms.inbound"
    assert topic_for("survey", s) == "t1.voc.survey.replies"
    assert topic_for("survey", s, prefix="x.") == "x.voc.survey.replies"


def test_read_lines_keeps_bytes_and_skips_blank(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_bytes(SMS + b"\r\n\n   \n" + b"{bad\xff" + b"\n" + SURVEY)
    assert list(read_lines(f)) == [SMS, b"{bad\xff", SURVEY]


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        assert dt > 0
        self.t += dt


def test_rate_limiter_paces_to_the_rate() -> None:
    c = FakeClock()
    lim = RateLimiter(100.0, burst=1, clock=c.now, sleep=c.sleep)
    for _ in range(501):
        lim.acquire()
    assert abs(c.t - 5.0) < 0.05  # 500 intervals of 10 ms (first one is free)


def test_rate_limiter_allows_a_small_burst_then_paces() -> None:
    c = FakeClock()
    lim = RateLimiter(1000.0, burst=50, clock=c.now, sleep=c.sleep)
    for _ in range(50):
        lim.acquire()
    assert c.t == 0.0
    for _ in range(1000):
        lim.acquire()
    assert abs(c.t - 1.0) < 0.01


def test_unlimited_rate_never_sleeps() -> None:
    c = FakeClock()
    lim = RateLimiter(None, clock=c.now, sleep=c.sleep)
    for _ in range(10_000):
        lim.acquire()
    assert c.t == 0.0


class _Done:
    def __init__(self, exc: Exception | None = None) -> None:
        self.exc = exc

    def get(self, timeout: float) -> None:
        if self.exc:
            raise self.exc


class RecordingProducer:
    """Records what would be sent; fails sends whose value contains b"FAIL"."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, Any]] = []
        self.flushed = False

    def send(self, topic: str, value: bytes, key: bytes | None) -> _Done:
        self.sent.append((topic, key, value))
        return _Done(RuntimeError("broker said no") if b"FAIL" in value else None)

    def flush(self, timeout: float) -> None:
        self.flushed = True


def test_replay_routes_every_line_as_is_and_summarises() -> None:
    p = RecordingProducer()
    lines = [SMS, SURVEY, b"{oops", b'{"message_id": "FAIL"}']
    s = replay(lines, p, Settings(), topic_prefix="p.")
    assert [v for _, _, v in p.sent] == lines
    assert [t for t, _, _ in p.sent] == ["p.voc.sms.inbound", "p.voc.survey.replies",
                                         "p.voc.sms.inbound", "p.voc.sms.inbound"]
    assert p.flushed
    assert s.sent == 3 and s.failed == 1 and "broker said no" in s.errors[0]
    assert dict(s.by_kind) == {"sms": 2, "survey": 1, "unknown": 1}
    assert s.by_topic["p.voc.sms.inbound"] == 2


def test_retime_stamps_valid_records_and_leaves_unknown_alone() -> None:
    import json
    from datetime import UTC, datetime

    from streams.replay import retime

    now = datetime(2026, 11, 25, 21, 0, 5, tzinfo=UTC)
    sms = json.loads(retime(SMS, "sms", now))
    assert sms["received_at"] == "2026-11-25T21:00:05Z" and sms["body"] == "hi"
    survey = json.loads(retime(SURVEY, "survey", now))
    assert survey["submitted_at"] == "2026-11-25T21:00:05Z"
    assert retime(b"{oops", "unknown", now) == b"{oops"
    p = RecordingProducer()
    replay([SMS, b"{oops"], p, Settings(), retime_to_now=True)
    assert "received_at" in json.loads(p.sent[0][2]) and p.sent[1][2] == b"{oops"
