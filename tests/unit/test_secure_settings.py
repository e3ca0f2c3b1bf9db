"""Secret files (``VOC_<NAME>_FILE``), the refusal of credentials over plain text, URL
masking, and the mTLS client certificate reaching every Kafka client."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from streams.security import (
    aiokafka_security,
    kafka_python_security,
    kafka_ssl_context,
    mask_url,
    search_access,
)
from streams.settings import ConfigError, Settings
from tests.support.secured import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), "store-pw")


@pytest.fixture(autouse=True)
def _no_voc_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in [k for k in os.environ if k.upper().startswith("VOC_")]:
        monkeypatch.delenv(key)


# ---------------------------------------------------------------- *_FILE settings


def test_a_secret_comes_from_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-from-file\n")
    monkeypatch.setenv("VOC_SEARCH_URL", "https://search.internal:9200")
    monkeypatch.setenv("VOC_SEARCH_USERNAME", "svc")
    monkeypatch.setenv("VOC_SEARCH_PASSWORD_FILE", str(tmp_path / "pw"))
    s = Settings()
    assert s.search_password is not None
    assert s.search_password.get_secret_value() == "s3cret-from-file"  # newline dropped
    assert "s3cret-from-file" not in repr(s)


def test_any_setting_can_come_from_a_file_nested_ones_too(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    (tmp_path / "port").write_text("9123")
    (tmp_path / "group").write_text("from-file\n")
    monkeypatch.setenv("VOC_CONSOLE__PORT_FILE", str(tmp_path / "port"))
    monkeypatch.setenv("VOC_CONSUMER_GROUP_FILE", str(tmp_path / "group"))
    s = Settings()
    assert s.console.port == 9123
    assert s.consumer_group == "from-file"


def test_settings_whose_own_name_ends_in_file_keep_their_meaning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOC_CONSOLE__USERS_FILE", "/etc/voc/users.json")
    assert Settings().console.users_file == Path("/etc/voc/users.json")


def test_both_the_variable_and_its_file_is_an_error(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    (tmp_path / "g").write_text("x")
    monkeypatch.setenv("VOC_CONSUMER_GROUP", "y")
    monkeypatch.setenv("VOC_CONSUMER_GROUP_FILE", str(tmp_path / "g"))
    with pytest.raises(ConfigError, match="both VOC_CONSUMER_GROUP and VOC_CONSUMER_GROUP_FILE"):
        Settings()


def test_an_unreadable_file_names_the_variable(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("VOC_KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="VOC_KAFKA_SASL_PASSWORD_FILE: cannot read"):
        Settings()


def test_constructor_arguments_win_over_files(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    (tmp_path / "g").write_text("from-file")
    monkeypatch.setenv("VOC_CONSUMER_GROUP_FILE", str(tmp_path / "g"))
    assert Settings(consumer_group="explicit").consumer_group == "explicit"


# ---------------------------------------------------------------- plain-text refusal


SASL: dict[str, Any] = {"kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "svc",
                        "kafka_sasl_password": "pw-kafka-123"}


@pytest.mark.parametrize(("over", "match"), [
    ({"kafka_security_protocol": "PLAINTEXT", **SASL}, "PLAINTEXT"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", **SASL}, "SASL_PLAINTEXT"),
    ({"kafka_security_protocol": "SSL", **SASL}, "never sends them"),
    ({"kafka_security_protocol": "SASL_SSL"}, "SASL_SSL but VOC_KAFKA_SASL_USERNAME"),
    ({"kafka_ssl_keyfile": "/k.pem"}, "KEYFILE is set without"),
    ({"search_username": "u", "search_password": "pw-search-123"}, "over http://"),
    ({"search_api_key": "key-123"}, "over http://"),
    ({"search_url": "http://u:pw-in-url-123@127.0.0.1:9200"}, "over http://"),
])
def test_unsafe_settings_are_refused(over: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        Settings(**over)
    for secret in ("pw-kafka-123", "pw-search-123", "key-123", "pw-in-url-123"):
        assert secret not in str(err.value)


def test_plain_text_credentials_only_when_explicitly_allowed() -> None:
    s = Settings(kafka_security_protocol="SASL_PLAINTEXT", search_api_key="k",
                 allow_plaintext_credentials=True, **SASL)
    assert s.kafka_security_protocol == "SASL_PLAINTEXT"


def test_encrypted_transports_with_credentials_are_accepted() -> None:
    s = Settings(kafka_security_protocol="SASL_SSL", search_url="https://h:9200",
                 search_api_key="k", **SASL)
    assert s.search_api_key is not None


# ---------------------------------------------------------------- masking, search access


@pytest.mark.parametrize(("url", "shown"), [
    ("https://u:p%40ss@h:9200/x", "https://u:***@h:9200/x"),
    ("https://u@h:9200", "https://u@h:9200"),
    ("https://h:9200", "https://h:9200"),
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_credentials_in_the_url_leave_the_url() -> None:
    access = search_access(Settings(search_url="https://svc:p%40ss@h:9200"))
    assert access.url == "https://h:9200"
    assert access.basic == ("svc", "p@ss")


# ---------------------------------------------------------------- mTLS reaches every client


def _mtls(pki: Pki) -> Settings:
    return Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca,
                    kafka_ssl_certfile=pki.client_cert, kafka_ssl_keyfile=pki.client_key)


def test_client_certificate_reaches_every_kafka_client(pki: Pki, tmp_path: Path) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
    from kafka import KafkaProducer

    from streams.app import create_app

    settings = _mtls(pki).model_copy(update={"worker_data_dir": tmp_path})
    ctx = kafka_ssl_context(settings)
    assert ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    auth = dict(credentials_to_aiokafka_auth(create_app(settings).conf.broker_credentials))
    assert auth["security_protocol"] == "SSL" and isinstance(auth["ssl_context"], ssl.SSLContext)
    assert aiokafka_security(settings)["security_protocol"] == "SSL"
    kp = kafka_python_security(settings)
    assert kp["ssl_certfile"] == str(pki.client_cert) and kp["ssl_keyfile"] == str(pki.client_key)
    assert not set(kp) - set(KafkaProducer.DEFAULT_CONFIG)


def test_a_key_that_does_not_match_the_certificate_fails_at_once(pki: Pki) -> None:
    settings = _mtls(pki).model_copy(update={"kafka_ssl_keyfile": pki.rogue_client_key})
    with pytest.raises(ssl.SSLError):
        kafka_ssl_context(settings)
