"""processors.pseudonym and streams.privacy: keyed, stable pseudonyms and where the key lives."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from processors.pseudonym import keyed_digest, pseudonymise_customer
from streams.privacy import PseudonymKeyError, deadletter_policy, load_pseudonym_key
from streams.settings import Settings, StackSettings

KEY = b"0123456789abcdef0123456789abcdef"


def test_pseudonyms_are_stable_per_key_and_distinct_per_customer_and_key() -> None:
    a = pseudonymise_customer("C1", KEY)
    assert a == pseudonymise_customer("C1", KEY)
    assert a.startswith("cid_") and len(a) == 4 + 32 and "C1" not in a
    assert a != pseudonymise_customer("C2", KEY)
    assert a != pseudonymise_customer("C1", b"another key that is long enough")
    # purposes are separated: a dead letter of the bytes "C1" never equals the pseudonym
    assert keyed_digest(b"C1", KEY, "deadletter_original")[:32] != a[4:]


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        pseudonymise_customer("C1", b"short")


def _settings(tmp_path: Path, key_file: Path | None = None) -> Settings:
    return Settings(stack=StackSettings(state_dir=tmp_path / "state"),
                    pseudonym_key_file=key_file)


def test_without_a_configured_file_a_key_is_generated_once_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(tmp_path)
    with caplog.at_level(logging.WARNING, logger="streams.privacy"):
        first = load_pseudonym_key(settings)
        second = load_pseudonym_key(settings)
    path = tmp_path / "state" / "secrets" / "pseudonym.key"
    assert first == second and len(first) == 64 and path.read_bytes() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("PSEUDONYM KEY NOT CONFIGURED" in w for w in warnings) == 2  # every start
    assert any("generated a new pseudonym key" in w for w in warnings)


def test_a_configured_key_file_is_used_and_a_broken_one_stops_the_worker(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    assert load_pseudonym_key(_settings(tmp_path, key_file)) == KEY
    assert not (tmp_path / "state").exists()  # nothing generated beside it
    with pytest.raises(PseudonymKeyError, match="No such file"):
        load_pseudonym_key(_settings(tmp_path, tmp_path / "missing"))
    key_file.write_bytes(b"tooshort\n")
    with pytest.raises(PseudonymKeyError, match="at least 16"):
        load_pseudonym_key(_settings(tmp_path, key_file))


def test_the_dead_letter_policy_follows_the_setting(tmp_path: Path) -> None:
    assert deadletter_policy(_settings(tmp_path), KEY).keep_original is False
    kept = Settings(deadletter_keep_original=True)
    assert deadletter_policy(kept, KEY).keep_original is True
    assert deadletter_policy(kept, KEY).hash_key == KEY


def test_dead_letters_of_our_own_minimised_outputs_keep_them(tmp_path: Path) -> None:
    settings = Settings(topic_prefix="p.")
    policy = deadletter_policy(settings, KEY)
    assert policy.keeps("p.voc.feedback.enriched") and policy.keeps("p.voc.followups")
    for raw_source in ("p.voc.sms.inbound", "p.voc.survey.replies", "p.voc.followups.outcomes",
                       "p.voc.audit"):
        assert not policy.keeps(raw_source), raw_source


def test_a_state_dir_that_cannot_be_written_asks_for_the_key_file(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        settings = Settings(stack=StackSettings(state_dir=ro / "state"))
        if os.access(ro, os.W_OK):  # root ignores modes: make the parent a file instead
            ro.chmod(0o700)
            blocker = tmp_path / "blocker"
            blocker.write_text("")
            settings = Settings(stack=StackSettings(state_dir=blocker / "state"))
        with pytest.raises(PseudonymKeyError, match="VOC_PSEUDONYM_KEY_FILE"):
            load_pseudonym_key(settings)
    finally:
        ro.chmod(0o700)
