"""Kafka with SASL_SSL (SCRAM-SHA-512) and mTLS, on a broker the run starts (conftest):
every client path we ship connects, and each way of getting it wrong fails in one clear
sentence that names the setting to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.kafka_check import KafkaUnavailable
from streams.settings import Settings
from streams.topics import create_topics, describe_topics
from tests.integration.secured.conftest import Secured
from tests.support.secured import MTLS_PORT, SASL_SSL_PORT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[3]


def voc(args: list[str], env: dict[str, str],
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``voc ARGS`` in a subprocess whose only VOC_* variables are ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("VOC_")}
    return subprocess.run([sys.executable, "-m", "streams.cli.main", *args], cwd=REPO,  # noqa: S603
                          env={**base, **env}, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_topics_create_over_sasl_ssl(secured: Secured, unique_name: str) -> None:
    settings = secured.sasl_settings(topic_prefix=f"{unique_name}.")
    outcome = create_topics(settings)
    assert outcome and set(outcome.values()) == {"created"}
    assert describe_topics(settings) == {name: settings.topics.partitions for name in outcome}
    assert set(create_topics(settings).values()) == {"exists"}


def test_voc_topics_create_over_mtls(secured: Secured, unique_name: str) -> None:
    """The CLI, configured only by environment, on the listener that requires a client
    certificate."""
    proc = voc(["topics", "create"], {**secured.mtls_env(), "VOC_TOPIC_PREFIX": f"{unique_name}."})
    assert proc.returncode == 0, proc.stderr[-2000:]
    created = [line for line in proc.stdout.splitlines() if line.startswith(unique_name)]
    assert created and all(line.endswith("created") for line in created)
    listed = describe_topics(secured.mtls_settings(topic_prefix=f"{unique_name}."))
    assert set(listed) == {line.removesuffix("created").strip() for line in created}


def test_wrong_password_is_refused_clearly(secured: Secured) -> None:
    settings = secured.sasl_settings().model_copy(
        update={"kafka_sasl_password": SecretStr("not-the-password")})
    with pytest.raises(KafkaUnavailable, match="refused our SASL credentials") as err:
        create_topics(settings, timeout_s=8)
    assert "not-the-password" not in str(err.value)


def test_unknown_user_is_refused_clearly(secured: Secured) -> None:
    settings = secured.sasl_settings(kafka_sasl_username="mallory")
    with pytest.raises(KafkaUnavailable, match="refused our SASL credentials"):
        create_topics(settings, timeout_s=8)


def test_missing_client_certificate_is_refused_clearly(secured: Secured) -> None:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{MTLS_PORT}", kafka_security_protocol="SSL",
                        kafka_ssl_cafile=secured.pki.ca)
    with pytest.raises(KafkaUnavailable, match="requires a client certificate"):
        create_topics(settings, timeout_s=8)


def test_client_certificate_from_another_ca_is_refused(secured: Secured) -> None:
    settings = secured.mtls_settings(kafka_ssl_certfile=secured.pki.rogue_client_cert,
                                     kafka_ssl_keyfile=secured.pki.rogue_client_key)
    with pytest.raises(KafkaUnavailable, match="rejected our client certificate"):
        create_topics(settings, timeout_s=8)


def test_broker_certificate_from_unknown_ca_is_refused(secured: Secured) -> None:
    settings = secured.sasl_settings(kafka_ssl_cafile=secured.pki.rogue_ca)
    with pytest.raises(KafkaUnavailable, match="certificate is not trusted.*VOC_KAFKA_SSL_CAFILE"):
        create_topics(settings, timeout_s=8)


def test_voc_explains_a_wrong_password(secured: Secured, tmp_path: Path) -> None:
    wrong = tmp_path / "pw"
    wrong.write_text("wrong-password-123\n")
    proc = voc(["topics", "create"], {**secured.sasl_env(),
                                      "VOC_KAFKA_SASL_PASSWORD_FILE": str(wrong)})
    assert proc.returncode != 0
    assert "refused our SASL credentials" in proc.stderr
    assert "wrong-password-123" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_credentials_over_plaintext_are_refused_at_start_up(secured: Secured,
                                                             protocol: str) -> None:
    """Refused before any connection: by ``voc topics create`` and by ``voc worker``."""
    env = {**secured.sasl_env(), "VOC_KAFKA_SECURITY_PROTOCOL": protocol,
           "VOC_KAFKA_BOOTSTRAP": f"127.0.0.1:{SASL_SSL_PORT}"}
    password = secured.secret(secured.kafka_password_file)
    for command in (["topics", "create"], ["worker"]):
        proc = voc(command, env)
        assert proc.returncode == 2, (command, proc.stdout[-500:], proc.stderr[-2000:])
        assert "configuration refused" in proc.stderr and "refusing" in proc.stderr
        assert password not in proc.stdout + proc.stderr
