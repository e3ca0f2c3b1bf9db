"""`voc enrich` / `voc classify` through click (the model is the fake test double here;
tests/unit/test_enrich_real.py runs the same command with the real encoder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from processors.config import EnrichConfig
from processors.pipeline import Enricher
from streams.cli import enrich_cmd
from streams.cli.main import cli
from tests.unit.fake_analyzer import FakeAnalyzer

SMS = {"message_id": "SM1", "from": "+447700900123",
       "body": "you charged me twice, call 07700 900123",
       "received_at": "2026-11-25T18:00:00Z", "brand": "acme", "customer_id": "C1"}
SURVEY = {"response_id": "R1", "survey_id": "S1", "customer_id": "C1", "brand": "acme",
          "submitted_at": "2026-11-25T18:01:00Z", "kind": "nps", "score": 2,
          "comment": "still no refund"}


KEY = b"enrich-cmd-test-key-0123456789ab"


@pytest.fixture(autouse=True)
def fake_enricher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enrich_cmd, "_build_enricher",
                        lambda: Enricher(EnrichConfig(), FakeAnalyzer()))


@pytest.fixture(autouse=True)
def pseudonym_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worker's key, from a file (never the shared state dir's generated one)."""
    from streams.settings import get_settings

    path = tmp_path / "pseudonym.key"
    path.write_bytes(KEY)
    monkeypatch.setenv("VOC_PSEUDONYM_KEY_FILE", str(path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_enrich_pseudonymises_customer_ids_with_the_workers_key(tmp_path: Path) -> None:
    from processors.pseudonym import pseudonymise_customer

    result = CliRunner().invoke(cli, ["enrich"], input=json.dumps(SMS) + "\n")
    assert result.exit_code == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["customer_id"] == pseudonymise_customer("C1", KEY)
    assert '"C1"' not in result.stdout


def _jsonl(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_enrich_file_with_a_bad_line(tmp_path: Path) -> None:
    secret_bad = '{"message_id": "SM2", "body": "my card 4111 1111 1111 1111"'  # truncated JSON
    src = _jsonl(tmp_path, [json.dumps(SMS), secret_bad, "", json.dumps(SURVEY),
                            json.dumps({**SMS, "message_id": "SM3", "body": "   "})])
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["enrich", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 1
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["id"] for d in docs] == ["sms:SM1", "survey:R1"]
    assert "[PHONE]" in docs[0]["text"] and "07700" not in out.read_text()
    assert "line 2: invalid_json" in result.stderr
    assert "line 5: empty_text" in result.stderr
    assert "4111" not in result.stderr
    # second contact of C1 within 7 days is counted, as the worker does
    assert "2nd contact in 7 days" in docs[1]["urgency"]["reasons"]


def test_enrich_stdin_to_stdout_keeps_order() -> None:
    lines = [json.dumps({**SMS, "message_id": f"M{i}", "customer_id": f"C{i}"})
             for i in range(70)]
    result = CliRunner().invoke(cli, ["enrich"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.stderr
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == [f"sms:M{i}" for i in range(70)]
    assert "enriched 70 record(s), 0 bad line(s)" in result.stderr


def test_enrich_missing_input_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["enrich", "--input", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2


def test_classify_readable_and_json() -> None:
    text = "You charged me twice!!! I'm cancelling and going to the ombudsman"
    result = CliRunner().invoke(cli, ["classify", text])
    assert result.exit_code == 0, result.output
    for needle in ("sentiment: negative", "topics:", "billing", "urgency:",
                   "threatens to cancel or leave", "rant:      yes", "suggested reply: I can hear",
                   "intensity: ", "\nmodel:     fake-bag-of-words, test"):
        assert needle in result.output
    result = CliRunner().invoke(cli, ["classify", "--json", "ok thanks"])
    doc = json.loads(result.output)
    assert doc["is_rant"] is False and doc["language"] == "en" and "followup" not in doc


def test_enrich_tolerates_bom_and_crlf(tmp_path: Path) -> None:
    src = tmp_path / "win.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + json.dumps(SMS).encode() + b"\r\n"
                    + json.dumps(SURVEY).encode() + b"\r\n")
    result = CliRunner().invoke(cli, ["enrich", "--input", str(src)])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


def test_enrich_batches_by_voc_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.settings import get_settings

    sizes: list[int] = []
    real = Enricher(EnrichConfig(), FakeAnalyzer())

    class Counting:
        def enrich_batch(self, items, recent_contacts=None, now=None):  # type: ignore[no-untyped-def]
            sizes.append(len(items))
            return real.enrich_batch(items, recent_contacts, now)

    monkeypatch.setattr(enrich_cmd, "_build_enricher", Counting)
    monkeypatch.setenv("VOC_BATCH_SIZE", "4")
    get_settings.cache_clear()
    try:
        lines = [json.dumps({**SMS, "message_id": f"M{i}"}) for i in range(10)]
        result = CliRunner().invoke(cli, ["enrich"], input="\n".join(lines) + "\n")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.stderr
    assert sizes == [4, 4, 2]
    # one customer, ten messages: the counter is the worker's (each message counted once)
    reasons = json.loads(result.stdout.splitlines()[-1])["urgency"]["reasons"]
    assert any("10th contact in 7 days" in r for r in reasons), reasons


def test_pseudonym_prints_what_records_and_the_index_carry() -> None:
    from processors.pseudonym import pseudonymise_customer

    result = CliRunner().invoke(cli, ["pseudonym", "C1", " C2 "])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"C1\t{pseudonymise_customer('C1', KEY)}",
                                          f" C2 \t{pseudonymise_customer('C2', KEY)}"]
