"""Secured servers for the tests: a CA and certificates, a Kafka broker with SASL_SSL
(SCRAM-SHA-512) and mTLS listeners, and a TLS + auth front for the search engine.

Everything is made by the test run, in a temporary folder, and torn down by it:

* ``make_pki`` makes, with ``openssl`` and ``keytool``, a CA, a broker certificate
  (``localhost`` / ``127.0.0.1``), a client certificate for mTLS, the broker's PKCS#12
  keystore and truststore, and a second, unrelated "rogue" CA with its own client
  certificate (what an attacker or a misconfigured client would present).
* ``SecuredKafka`` is the local stack's own launcher (``streams.stack.kafka.KafkaService``:
  same jars, same KRaft format, same process handling) with different listeners; its
  SCRAM users are created at format time (``kafka-storage format --add-scram``).
* ``SecureSearchProxy``: OpenSearch's security plugin is not usable here (on Maven Central
  ``org.opensearch.plugin:opensearch-security`` stops at 3.4.0.0, and a plugin must match
  the engine's exact version, 3.8.0 in the local stack), so a TLS + auth reverse proxy
  stands in front of the real local OpenSearch: HTTPS with our CA's certificate, and
  every request must carry the right basic-auth pair or API key, else 401.
"""

from __future__ import annotations

import base64
import hmac
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.settings import Settings, StackSettings
from streams.stack.kafka import KafkaService
from tests.support.es_proxy import EsProxy, _Handler

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
KEYTOOL = shutil.which("keytool") or "/usr/bin/keytool"

# ports of the secured servers (the shared stack owns 9092-9094 and 9200)
SASL_SSL_PORT = 19092
MTLS_PORT = 19093
CONTROLLER_PORT = 19094
SEARCH_TLS_PORT = 19200

SCRAM_USER = "voc-worker"


def _run(*argv: str, cwd: Path) -> None:
    proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}... failed: {proc.stderr[-800:]}")


@dataclass(frozen=True)
class Pki:
    """Paths of everything ``make_pki`` wrote (PEM unless said otherwise)."""

    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    keystore: Path  # PKCS#12: broker key + chain
    truststore: Path  # PKCS#12: our CA
    store_password: str
    rogue_ca: Path
    rogue_client_cert: Path
    rogue_client_key: Path


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    _run(OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return cert, key


def _leaf(d: Path, name: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    key, csr, cert, extfile = (d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem",
                               d / f"{name}.ext")
    extfile.write_text(ext)
    _run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
         "-subj", f"/CN={name}", cwd=d)
    _run(OPENSSL, "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
         "-CAcreateserial", "-days", "2", "-out", str(cert), "-extfile", str(extfile), cwd=d)
    return cert, key


def make_pki(d: Path, store_password: str) -> Pki:
    """A CA, a server and a client certificate, the broker's stores, and a rogue CA."""
    d.mkdir(parents=True, exist_ok=True)
    ca = _ca(d, "voc-test-ca")
    server = _leaf(d, "localhost", ca,
                   "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n")  # the broker is its own client
    client = _leaf(d, "voc-worker", ca, "extendedKeyUsage=clientAuth\n")
    rogue_ca = _ca(d, "rogue-ca")
    rogue_client = _leaf(d, "rogue-client", rogue_ca, "extendedKeyUsage=clientAuth\n")
    keystore, truststore = d / "broker.p12", d / "truststore.p12"
    _run(OPENSSL, "pkcs12", "-export", "-in", str(server[0]), "-inkey", str(server[1]),
         "-certfile", str(ca[0]), "-name", "broker", "-out", str(keystore),
         "-passout", f"pass:{store_password}", cwd=d)
    _run(KEYTOOL, "-importcert", "-noprompt", "-alias", "voc-test-ca", "-file", str(ca[0]),
         "-keystore", str(truststore), "-storetype", "PKCS12",
         "-storepass", store_password, cwd=d)
    return Pki(dir=d, ca=ca[0], server_cert=server[0], server_key=server[1],
               client_cert=client[0], client_key=client[1], keystore=keystore,
               truststore=truststore, store_password=store_password, rogue_ca=rogue_ca[0],
               rogue_client_cert=rogue_client[0], rogue_client_key=rogue_client[1])


class SecuredKafka(KafkaService):
    """One KRaft broker with a SASL_SSL (SCRAM-SHA-512) listener and an SSL listener that
    requires a client certificate. Inter-broker traffic uses the mTLS listener; the
    controller listener is loopback PLAINTEXT (controllers only, as in the stack)."""

    name = "kafka-secured"

    def __init__(self, state_dir: Path, pki: Pki, users: dict[str, str]) -> None:
        stack = StackSettings(state_dir=state_dir, kafka_port=SASL_SSL_PORT,
                              kafka_controller_port=CONTROLLER_PORT, kafka_heap="384m")
        super().__init__(Settings(stack=stack))
        self.pki = pki
        self.users = users

    def listener_properties(self) -> list[str]:
        p, pw = self.pki, self.pki.store_password
        return [
            f"listeners=SASL_SSL://127.0.0.1:{SASL_SSL_PORT},SSL://127.0.0.1:{MTLS_PORT},"
            f"CONTROLLER://127.0.0.1:{CONTROLLER_PORT}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{SASL_SSL_PORT},"
            f"SSL://127.0.0.1:{MTLS_PORT}",
            "inter.broker.listener.name=SSL",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.ssl.ssl.client.auth=required",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={p.keystore}",
            f"ssl.keystore.password={pw}",
            f"ssl.key.password={pw}",
            "ssl.truststore.type=PKCS12",
            f"ssl.truststore.location={p.truststore}",
            f"ssl.truststore.password={pw}",
        ]

    def format_args(self) -> list[str]:
        args: list[str] = []
        for user, password in self.users.items():
            args += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        return args

    def client_kwargs(self) -> dict[str, Any]:
        """The health check connects over mTLS."""
        return {"bootstrap_servers": f"127.0.0.1:{MTLS_PORT}", "security_protocol": "SSL",
                "ssl_cafile": str(self.pki.ca), "ssl_certfile": str(self.pki.client_cert),
                "ssl_keyfile": str(self.pki.client_key)}

    def free_port(self) -> None:
        from streams.stack.process import StackError, port_open

        for port in (SASL_SSL_PORT, MTLS_PORT, CONTROLLER_PORT):
            if port_open("127.0.0.1", port):
                raise StackError(f"port {port} for the secured test broker is in use")


class _AuthHandler(_Handler):
    """Forwards (through es_proxy's handler) only requests with the right credentials."""

    basic: tuple[str, str] = ("", "")
    api_key: str = ""

    def _authorised(self) -> bool:
        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "apikey" and self.api_key:
            return hmac.compare_digest(value.strip(), self.api_key)
        if scheme.lower() == "basic":
            expected = base64.b64encode(":".join(self.basic).encode()).decode()
            return hmac.compare_digest(value.strip(), expected)
        return False

    def _forward(self) -> None:
        if not self._authorised():
            body = b'{"error":"unauthorized","status":401}'
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(401, "Unauthorized")
            self.send_header("WWW-Authenticate", 'Basic realm="voc-test"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super()._forward()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


class SecureSearchProxy(EsProxy):
    """HTTPS (our CA's server certificate) + basic auth or API key, in front of the real
    local OpenSearch; also keeps es_proxy's header translation, so both clients work."""

    handler_class = _AuthHandler

    def __init__(self, upstream_url: str, pki: Pki, *, user: str, password: str,
                 api_key: str, port: int = SEARCH_TLS_PORT) -> None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(str(pki.server_cert), str(pki.server_key))
        super().__init__(upstream_url, port=port, tls=tls, basic=(user, password),
                         api_key=api_key)
