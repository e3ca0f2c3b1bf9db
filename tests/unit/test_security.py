"""Security defaults: loopback binds, Kafka SASL/SSL and search auth/TLS reach the clients,
secrets come only from the environment and are never printed."""

from __future__ import annotations

import asyncio
import ssl
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import pytest

from streams.settings import Settings

SECRETS = {"kafka_sasl_password": "kafka-s3cret-pw", "search_api_key": "search-api-k3y",
           "search_password": "search-s3cret-pw"}


def _loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    return ip_address(host).is_loopback


@pytest.fixture()
def one_ca(tmp_path: Path) -> Path:
    """A CA bundle with exactly one certificate, so we can see it was loaded."""
    pem = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    first = pem[pem.index("-----BEGIN CERTIFICATE-----"): pem.index(end) + len(end)]
    path = tmp_path / "ca.pem"
    path.write_text(first + "\n")
    return path


# ---------------------------------------------------------------- loopback by default


def test_every_default_address_is_loopback() -> None:
    s = Settings()
    assert _loopback(s.web_host)
    for server in s.kafka_bootstrap.split(","):
        assert _loopback(server.rsplit(":", 1)[0])
    assert _loopback(urlsplit(s.search_url).hostname or "")


def test_worker_web_server_binds_web_host(tmp_path: Path) -> None:
    """Faust would bind every interface by default; ours binds settings.web_host."""
    from streams.app import create_app

    app = create_app(Settings(worker_data_dir=tmp_path))
    assert app.conf.web_bind == "127.0.0.1"
    assert app.conf.web_host == "127.0.0.1"


def test_local_kafka_listens_on_loopback_only() -> None:
    from streams.stack.kafka import KafkaService

    props = dict(line.split("=", 1) for line in KafkaService(Settings()).server_properties()
                 .splitlines() if "=" in line and not line.startswith("#"))
    for key in ("listeners", "advertised.listeners", "controller.quorum.bootstrap.servers"):
        for listener in props[key].split(","):
            host = listener.split("//")[-1].rsplit(":", 1)[0]
            assert _loopback(host), f"{key}: {listener}"


def test_local_opensearch_binds_loopback_only() -> None:
    from streams.stack.opensearch import _SOURCE

    java = _SOURCE.read_text()
    assert 'settings.put("network.host", "127.0.0.1")' in java
    assert "0.0.0.0" not in java and "_site_" not in java and "_global_" not in java


def test_local_prometheus_and_alertmanager_listen_on_loopback_only() -> None:
    from streams.stack.prometheus import AlertmanagerService, PrometheusService

    for cls in (PrometheusService, AlertmanagerService):
        argv = cls(Settings()).argv()
        listen = [a for a in argv if a.startswith("--web.listen-address=")]
        assert listen and all(_loopback(a.split("=", 1)[1].rsplit(":", 1)[0]) for a in listen)
        assert not any("0.0.0.0" in a for a in argv)
    # Alertmanager's HA gossip would bind every interface: it is switched off
    assert "--cluster.listen-address=" in AlertmanagerService(Settings()).argv()


# ---------------------------------------------------------------- secrets


def _encrypted_transports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Transports on which credentials are accepted (over plain text they are refused)."""
    monkeypatch.setenv("VOC_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("VOC_KAFKA_SASL_USERNAME", "svc-voc")
    monkeypatch.setenv("VOC_SEARCH_URL", "https://search.internal:9200")


def test_secrets_come_from_the_environment_and_are_secretstr(monkeypatch) -> None:
    _encrypted_transports(monkeypatch)
    monkeypatch.setenv("VOC_KAFKA_SASL_PASSWORD", SECRETS["kafka_sasl_password"])
    monkeypatch.setenv("VOC_SEARCH_API_KEY", SECRETS["search_api_key"])
    monkeypatch.setenv("VOC_SEARCH_PASSWORD", SECRETS["search_password"])
    s = Settings()
    for field, value in SECRETS.items():
        secret = getattr(s, field)
        assert secret.get_secret_value() == value
        assert type(secret).__name__ == "SecretStr"


def test_secrets_never_printed(monkeypatch) -> None:
    _encrypted_transports(monkeypatch)
    for field, value in SECRETS.items():
        monkeypatch.setenv(f"VOC_{field.upper()}", value)
    s = Settings(search_username="elastic")
    shown = " ".join([repr(s), str(s), s.model_dump_json(), repr(s.model_dump())])
    for value in SECRETS.values():
        assert value not in shown
    assert "svc-voc" in shown  # usernames are not secrets: they help debugging


def test_no_secret_has_a_default() -> None:
    s = Settings()
    assert s.kafka_sasl_password is None
    assert s.search_api_key is None
    assert s.search_password is None
    assert s.search_verify_certs is True  # TLS verification is on unless turned off


# ---------------------------------------------------------------- Kafka SASL / SSL


def _kafka_settings(proto: str, ca: Path | None, tmp_path: Path) -> Settings:
    sasl: dict[str, Any] = {}
    if proto.startswith("SASL"):
        sasl = {"kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "svc-voc",
                "kafka_sasl_password": SECRETS["kafka_sasl_password"],
                # SASL_PLAINTEXT is refused unless allowed (tests/unit/test_secure_settings.py)
                "allow_plaintext_credentials": proto == "SASL_PLAINTEXT"}
    return Settings(kafka_security_protocol=proto, kafka_ssl_cafile=ca,
                    worker_data_dir=tmp_path, **sasl)


@pytest.mark.parametrize("proto", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_faust_passes_kafka_security_to_aiokafka(proto: str, one_ca: Path, tmp_path: Path) -> None:
    """What the Faust worker hands to aiokafka, through Faust's own translation."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.app import create_app

    app = create_app(_kafka_settings(proto, one_ca, tmp_path))
    auth: dict[str, Any] = dict(credentials_to_aiokafka_auth(app.conf.broker_credentials))
    assert auth["security_protocol"] == proto
    if proto.startswith("SASL"):
        assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
        assert auth["sasl_plain_username"] == "svc-voc"
        assert auth["sasl_plain_password"] == SECRETS["kafka_sasl_password"]
    if proto.endswith("SSL"):
        ctx: ssl.SSLContext = auth["ssl_context"]
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        assert len(ctx.get_ca_certs()) == 1  # our CA file, not just the system store
    else:
        assert auth.get("ssl_context") is None


def test_sasl_without_credentials_fails_fast(tmp_path: Path) -> None:
    from streams.settings import ConfigError

    with pytest.raises(ConfigError, match="SASL_SSL but VOC_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_SSL", worker_data_dir=tmp_path)


@pytest.mark.parametrize("proto", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_kafka_python_producer_gets_security(proto: str, one_ca: Path, tmp_path: Path) -> None:
    """``voc replay`` (kafka-python) gets the same protocol, mechanism, user and CA."""
    from streams.replay import producer_config

    cfg = producer_config(_kafka_settings(proto, one_ca, tmp_path))
    assert cfg["security_protocol"] == proto
    if proto.startswith("SASL"):
        assert cfg["sasl_mechanism"] == "SCRAM-SHA-512"
        assert cfg["sasl_plain_username"] == "svc-voc"
        assert cfg["sasl_plain_password"] == SECRETS["kafka_sasl_password"]
    if proto.endswith("SSL"):
        assert cfg["ssl_cafile"] == str(one_ca)
    # kafka-python accepts every key we build (an unknown key would raise here)
    from kafka import KafkaProducer

    unknown = set(cfg) - set(KafkaProducer.DEFAULT_CONFIG)
    assert not unknown


# ---------------------------------------------------------------- search auth / TLS


def _search_settings(ca: Path, **over: Any) -> Settings:
    base: dict[str, Any] = {"search_url": "https://search.internal:9200", "search_ca_certs": ca}
    base.update(over)
    return Settings(**base)


def test_opensearch_client_gets_api_key_and_ca(one_ca: Path) -> None:
    from streams.search.factory import make_backend

    backend = make_backend(_search_settings(one_ca, search_api_key=SECRETS["search_api_key"]),
                           kind="opensearch")
    kwargs = backend.client.transport.kwargs
    assert kwargs["headers"]["Authorization"] == f"ApiKey {SECRETS['search_api_key']}"
    assert kwargs["verify_certs"] is True
    assert kwargs["ca_certs"] == str(one_ca)


@pytest.mark.parametrize("verify", [True, False])
def test_opensearch_connection_basic_auth_and_tls_verify(one_ca: Path, verify: bool) -> None:
    from streams.search.factory import make_backend

    settings = _search_settings(one_ca, search_username="svc-voc",
                                search_password=SECRETS["search_password"],
                                search_verify_certs=verify)
    backend = make_backend(settings, kind="opensearch")

    async def first_connection() -> Any:
        await backend.client.transport._async_init()
        conn = backend.client.transport.connection_pool.connections[0]
        await backend.client.close()
        return conn

    conn = asyncio.run(first_connection())
    assert conn.headers["authorization"].startswith("Basic ")
    assert conn.use_ssl is True
    expected = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    assert conn._ssl_context.verify_mode == expected
    if verify:  # our CA is trusted (opensearch-py adds it to the default store)
        ours = ssl.create_default_context(cafile=str(one_ca)).get_ca_certs()[0]["serialNumber"]
        loaded = {c["serialNumber"] for c in conn._ssl_context.get_ca_certs()}
        assert ours in loaded


@pytest.mark.parametrize("auth", ["api_key", "basic"])
def test_elasticsearch_client_gets_auth_and_ca(one_ca: Path, auth: str) -> None:
    import base64

    from streams.search.factory import make_backend

    if auth == "api_key":
        settings = _search_settings(one_ca, search_api_key=SECRETS["search_api_key"])
        expected = f"ApiKey {SECRETS['search_api_key']}"
    else:
        settings = _search_settings(one_ca, search_username="svc-voc",
                                    search_password=SECRETS["search_password"])
        token = base64.b64encode(f"svc-voc:{SECRETS['search_password']}".encode()).decode()
        expected = f"Basic {token}"
    client = make_backend(settings, kind="elasticsearch").client
    assert client._headers["authorization"] == expected
    node = client.transport.node_pool.all()[0].config
    assert node.scheme == "https" and node.verify_certs is True
    assert node.ca_certs == str(one_ca)
