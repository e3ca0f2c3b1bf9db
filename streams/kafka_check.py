"""Why a Kafka connection fails, in one line that names the setting to fix.

kafka-python only says "Unable to bootstrap" when the broker rejects our TLS certificate,
does not trust its own, or refuses the SASL password. ``explain`` opens one connection to
the first bootstrap server with aiokafka's connection (the worker's library, which
reports SASL failures) and the same security settings, and turns what happens into a
sentence. ``connect_error`` is what the CLI raises.
"""

from __future__ import annotations

import asyncio
import ssl

from streams.security import aiokafka_security
from streams.settings import Settings

_CLIENT_CERT_ALERTS = ("ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_UNKNOWN",
                       "CERTIFICATE_REQUIRED", "ALERT_UNKNOWN_CA", "ALERT_HANDSHAKE_FAILURE")


class KafkaUnavailable(RuntimeError):
    """Kafka could not be reached or refused us; the message says why."""


async def _probe(settings: Settings, timeout_s: float) -> str | None:
    """None if a connection with our settings works, else the failure's text."""
    from aiokafka.conn import create_conn  # type: ignore[import-untyped]

    host, _, port = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    try:
        conn = await asyncio.wait_for(
            create_conn(host, int(port), request_timeout_ms=int(timeout_s * 1000),
                        **aiokafka_security(settings)), timeout_s)
    except Exception as exc:  # noqa: BLE001 - every failure is described, none hidden
        return f"{type(exc).__name__}: {exc}"
    conn.close()
    return None


def explain(settings: Settings, timeout_s: float = 10.0) -> str:
    """A one-line reason why clients with these settings cannot use the first broker."""
    try:
        failure = asyncio.run(_probe(settings, timeout_s))
    except (OSError, ssl.SSLError, ValueError) as exc:
        failure = f"{type(exc).__name__}: {exc}"
    proto = settings.kafka_security_protocol
    if failure is None:
        return "a test connection works now; the broker may have been starting"
    if "CERTIFICATE_VERIFY_FAILED" in failure:
        return (f"the broker's TLS certificate is not trusted ({failure}): set "
                "VOC_KAFKA_SSL_CAFILE to the CA that signed it")
    if "SaslAuthenticationFailed" in failure or "Authentication failed" in failure:
        return (f"the broker refused our SASL credentials ({failure}): check "
                "VOC_KAFKA_SASL_USERNAME, VOC_KAFKA_SASL_PASSWORD(_FILE) and "
                "VOC_KAFKA_SASL_MECHANISM")
    if "UnsupportedSaslMechanism" in failure:
        return f"the broker does not offer this SASL mechanism ({failure})"
    if proto in ("SSL", "SASL_SSL") and (
            any(a in failure for a in _CLIENT_CERT_ALERTS) or "closed" in failure):
        if settings.kafka_ssl_certfile is None:
            return (f"the broker closed the TLS connection ({failure}): it probably requires"
                    " a client certificate (mTLS); set VOC_KAFKA_SSL_CERTFILE and "
                    "VOC_KAFKA_SSL_KEYFILE")
        return (f"the broker rejected our client certificate ({failure}): "
                "VOC_KAFKA_SSL_CERTFILE must be signed by a CA the broker trusts")
    if "closed" in failure and proto in ("PLAINTEXT", "SASL_PLAINTEXT"):
        return (f"the broker closed the connection ({failure}): its listener may expect "
                "TLS or SASL; check VOC_KAFKA_SECURITY_PROTOCOL")
    return failure


def connect_error(settings: Settings, exc: BaseException) -> KafkaUnavailable:
    """The error a command raises when its Kafka client could not connect."""
    return KafkaUnavailable(
        f"cannot use Kafka at {settings.kafka_bootstrap} "
        f"({settings.kafka_security_protocol}): {explain(settings)} [{type(exc).__name__}]")
