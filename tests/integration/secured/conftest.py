"""One secured Kafka broker and one TLS + auth search front for every secured test.

Session-scoped: the broker (KRaft, SASL_SSL + mTLS listeners, certificates made by the
run) starts once; the search front proxies the shared local OpenSearch, which must be
up (``voc stack up``): a missing server fails the run, it never skips.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streams.settings import Settings
from streams.stack.process import http_ok
from tests.support.secured import (
    MTLS_PORT,
    SASL_SSL_PORT,
    SCRAM_USER,
    Pki,
    SecuredKafka,
    SecureSearchProxy,
    make_pki,
)


@dataclass(frozen=True)
class Secured:
    """The secured servers and the secrets (as files, the way a deployment mounts them)."""

    pki: Pki
    kafka_password_file: Path
    search_user: str
    search_password_file: Path
    search_api_key_file: Path
    search_url: str

    def secret(self, path: Path) -> str:
        return path.read_text().strip()

    def sasl_env(self) -> dict[str, str]:
        """VOC_* variables of a client on the SASL_SSL listener (password from a file)."""
        return {"VOC_KAFKA_BOOTSTRAP": f"127.0.0.1:{SASL_SSL_PORT}",
                "VOC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "VOC_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "VOC_KAFKA_SASL_USERNAME": SCRAM_USER,
                "VOC_KAFKA_SASL_PASSWORD_FILE": str(self.kafka_password_file),
                "VOC_KAFKA_SSL_CAFILE": str(self.pki.ca)}

    def mtls_env(self) -> dict[str, str]:
        """VOC_* variables of a client on the mTLS listener."""
        return {"VOC_KAFKA_BOOTSTRAP": f"127.0.0.1:{MTLS_PORT}",
                "VOC_KAFKA_SECURITY_PROTOCOL": "SSL",
                "VOC_KAFKA_SSL_CAFILE": str(self.pki.ca),
                "VOC_KAFKA_SSL_CERTFILE": str(self.pki.client_cert),
                "VOC_KAFKA_SSL_KEYFILE": str(self.pki.client_key)}

    def search_basic_env(self) -> dict[str, str]:
        return {"VOC_SEARCH_URL": self.search_url, "VOC_SEARCH_CA_CERTS": str(self.pki.ca),
                "VOC_SEARCH_USERNAME": self.search_user,
                "VOC_SEARCH_PASSWORD_FILE": str(self.search_password_file)}

    def search_api_key_env(self) -> dict[str, str]:
        return {"VOC_SEARCH_URL": self.search_url, "VOC_SEARCH_CA_CERTS": str(self.pki.ca),
                "VOC_SEARCH_API_KEY_FILE": str(self.search_api_key_file)}

    def sasl_settings(self, **over: Any) -> Settings:
        base: dict[str, Any] = {
            "kafka_bootstrap": f"127.0.0.1:{SASL_SSL_PORT}", "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": SCRAM_USER,
            "kafka_sasl_password": self.secret(self.kafka_password_file),
            "kafka_ssl_cafile": self.pki.ca}
        return Settings(**(base | over))

    def mtls_settings(self, **over: Any) -> Settings:
        base: dict[str, Any] = {
            "kafka_bootstrap": f"127.0.0.1:{MTLS_PORT}", "kafka_security_protocol": "SSL",
            "kafka_ssl_cafile": self.pki.ca, "kafka_ssl_certfile": self.pki.client_cert,
            "kafka_ssl_keyfile": self.pki.client_key}
        return Settings(**(base | over))

    def search_settings(self, **over: Any) -> Settings:
        base: dict[str, Any] = {"search_url": self.search_url, "search_ca_certs": self.pki.ca,
                                "search_username": self.search_user,
                                "search_password": self.secret(self.search_password_file),
                                "search_replicas": 0}
        return Settings(**(base | over))


def _secret_file(d: Path, name: str) -> Path:
    path = d / name
    path.write_text(secrets.token_urlsafe(18) + "\n")  # a trailing newline, as editors leave
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """Certificates, secrets, the secured broker and the TLS + auth search front."""
    upstream = Settings().search_url
    if not http_ok(upstream):
        pytest.fail(f"OpenSearch is not reachable at {upstream}: run `voc stack up`")
    root = tmp_path_factory.mktemp("secured")
    pki = make_pki(root / "pki", store_password=secrets.token_urlsafe(12))
    kafka_pw = _secret_file(root, "kafka-password")
    search_pw = _secret_file(root, "search-password")
    api_key = _secret_file(root, "search-api-key")
    broker = SecuredKafka(root / "state", pki,
                          users={SCRAM_USER: kafka_pw.read_text().strip()})
    broker.prepare()
    broker.start()
    try:
        broker.wait_healthy(180)
        with SecureSearchProxy(upstream, pki, user="voc-indexer",
                               password=search_pw.read_text().strip(),
                               api_key=api_key.read_text().strip()) as proxy:
            yield Secured(pki=pki, kafka_password_file=kafka_pw, search_user="voc-indexer",
                          search_password_file=search_pw, search_api_key_file=api_key,
                          search_url=proxy.url)
    finally:
        broker.stop()
