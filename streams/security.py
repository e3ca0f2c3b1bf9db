"""How every client we make connects securely: one mapping from ``Settings`` per client kind.

Kafka is reached by three client libraries (Faust's aiokafka in the worker, aiokafka in
the console, kafka-python in the CLI: ``voc topics create``, replay, the demo); the search
engine by two (opensearch-py, elasticsearch-py) plus one ``httpx`` probe. Each gets its
protocol, SASL credentials, CA and client certificate (mTLS) from here, so a deployment
that works for the worker works for every command. The refusal of credentials over plain
text lives with the settings (``Settings._transport_security``): it runs before any client
exists. ``mask_url`` hides credentials in a URL wherever one is shown.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from streams.settings import Settings


def mask_url(url: str) -> str:
    """``https://user:pw@host/`` -> ``https://user:***@host/``: safe to log or print."""
    parts = urlsplit(url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    shown = f"{user}:***@{host}" if parts.password is not None else f"{user}@{host}"
    return urlunsplit(parts._replace(netloc=shown))


# ---------------------------------------------------------------- Kafka


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS context for SSL / SASL_SSL brokers: the CA (system CAs unless
    ``kafka_ssl_cafile``), hostname checking on, and the client certificate for mTLS."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    ctx = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if settings.kafka_ssl_certfile is not None:
        password = (settings.kafka_ssl_key_password.get_secret_value()
                    if settings.kafka_ssl_key_password else None)
        keyfile = str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None
        ctx.load_cert_chain(str(settings.kafka_ssl_certfile), keyfile, password)
    return ctx


def _sasl(settings: Settings) -> dict[str, Any]:
    """SASL keyword arguments (the same names in aiokafka and kafka-python)."""
    if not settings.kafka_security_protocol.startswith("SASL"):
        return {}
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        # Settings refuses this already; kept for settings built with model_copy
        raise ValueError("VOC_KAFKA_SECURITY_PROTOCOL is SASL_* but VOC_KAFKA_SASL_USERNAME / "
                         "VOC_KAFKA_SASL_PASSWORD are not set")
    return {"sasl_mechanism": settings.kafka_sasl_mechanism or "PLAIN",
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password.get_secret_value()}


def faust_broker_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials``: SASLCredentials (with the TLS context), an
    SSLContext alone (SSL / mTLS), or None (PLAINTEXT)."""
    import faust

    ctx = kafka_ssl_context(settings)
    sasl = _sasl(settings)
    if sasl:
        return faust.SASLCredentials(username=sasl["sasl_plain_username"],
                                     password=sasl["sasl_plain_password"],
                                     ssl_context=ctx, mechanism=sasl["sasl_mechanism"])
    return ctx


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments (the console's producer and dead-letter reader)."""
    kw: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol, **_sasl(settings)}
    ctx = kafka_ssl_context(settings)
    if ctx is not None:
        kw["ssl_context"] = ctx
    return kw


def kafka_python_security(settings: Settings) -> dict[str, Any]:
    """kafka-python keyword arguments (admin, producers and consumers of the CLI)."""
    kw: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol, **_sasl(settings)}
    if settings.kafka_security_protocol.endswith("SSL"):
        kw["ssl_check_hostname"] = True
        if settings.kafka_ssl_cafile is not None:
            kw["ssl_cafile"] = str(settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile is not None:
            kw["ssl_certfile"] = str(settings.kafka_ssl_certfile)
        if settings.kafka_ssl_keyfile is not None:
            kw["ssl_keyfile"] = str(settings.kafka_ssl_keyfile)
        if settings.kafka_ssl_key_password is not None:
            kw["ssl_password"] = settings.kafka_ssl_key_password.get_secret_value()
    return kw


# ---------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchAccess:
    """How to reach the search engine: the URL without credentials, and the credentials
    and TLS trust apart from it (so the URL itself can be shown)."""

    url: str
    api_key: str | None
    basic: tuple[str, str] | None
    verify: bool
    ca_certs: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.api_key}"} if self.api_key else {}

    @property
    def httpx_verify(self) -> bool | ssl.SSLContext:
        """httpx's ``verify``: False, a context trusting our CA bundle, or True (system CAs)."""
        if not self.verify:
            return False
        return ssl.create_default_context(cafile=self.ca_certs) if self.ca_certs else True


def search_access(settings: Settings, url: str | None = None) -> SearchAccess:
    """Credentials from VOC_SEARCH_API_KEY, else VOC_SEARCH_USERNAME/_PASSWORD, else the
    URL's own ``user:password@`` (taken out of the URL, which the clients would log)."""
    parts = urlsplit(url or settings.search_url)
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
    key = settings.search_api_key.get_secret_value() if settings.search_api_key else None
    basic: tuple[str, str] | None = None
    if key is None:
        if settings.search_username:
            pw = settings.search_password.get_secret_value() if settings.search_password else ""
            basic = (settings.search_username, pw)
        elif parts.username:
            basic = (unquote(parts.username), unquote(parts.password or ""))
    ca = str(settings.search_ca_certs) if settings.search_ca_certs else None
    return SearchAccess(url=bare, api_key=key, basic=basic, verify=settings.search_verify_certs,
                        ca_certs=ca)
