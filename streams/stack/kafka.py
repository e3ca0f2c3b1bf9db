"""Apache Kafka in KRaft mode (one process: broker + controller) from Maven Central jars.

Kafka's server is just ``kafka.Kafka`` on a classpath, so no tarball or Docker is
needed: the jars come from Maven, storage is formatted once with
``kafka.tools.StorageTool``, and our own ``server.properties`` binds 127.0.0.1.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from pathlib import Path
from typing import Any

from streams.stack import process
from streams.stack.artifacts import fetch_maven, java_bin, java_major, jvm_argv
from streams.stack.process import StackError
from streams.stack.service import DEPLOY_DIR, Service

# Kafka 4.x logs through SLF4J 1.7; this binding routes it to log4j2 and our config.
_LOG4J_SLF4J = "org.apache.logging.log4j:log4j-slf4j-impl:2.24.3"


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64 (never starting with '-')."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


class KafkaService(Service):
    name = "kafka"

    @property
    def marker(self) -> str:  # type: ignore[override]
        return str(self.config_file)

    @property
    def port(self) -> int:
        return self.stack.kafka_port

    @property
    def config_file(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def lib_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.stack.kafka_version}" / "lib"

    #: this node's id in the KRaft quorum (one node: always 1)
    node_id: int = 1

    @property
    def controller_port(self) -> int:
        return self.stack.kafka_controller_port

    def quorum_properties(self) -> list[str]:
        """How the node finds the controller quorum: here, itself as the only controller."""
        return [f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"]

    def replication_properties(self) -> list[str]:
        """Copies of Kafka's own topics: one, as there is one broker."""
        return [
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
        ]

    def format_options(self) -> list[str]:
        """How the storage tool learns the quorum: a standalone (single) controller."""
        return ["--standalone"]

    def listener_properties(self) -> list[str]:
        """The client listeners (one PLAINTEXT on loopback here; the secured test broker,
        tests/support/secured.py, overrides this with SASL_SSL and mTLS listeners)."""
        port, cport = self.port, self.controller_port
        return [
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        ]

    def format_args(self) -> list[str]:
        """Extra ``StorageTool format`` arguments (e.g. ``--add-scram`` users)."""
        return []

    def server_properties(self) -> str:
        """KRaft config; topics are created explicitly, never auto-created. A multi-node
        cluster overrides the node id, quorum, replication and format hooks above."""
        partitions = self.settings.topics.partitions
        return "\n".join(
            [
                "# written by `voc stack up`; edits are overwritten",
                "process.roles=broker,controller",
                f"node.id={self.node_id}",
                *self.quorum_properties(),
                *self.listener_properties(),
                "controller.listener.names=CONTROLLER",
                f"log.dirs={self.data_dir}",
                f"num.partitions={partitions}",
                "auto.create.topics.enable=false",
                *self.replication_properties(),
                "offsets.topic.num.partitions=8",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )

    def java(self) -> Path:
        java = java_bin(self.stack.java_home)
        if java_major(java) < 17:
            raise StackError(f"Kafka 4.x needs Java 17+, {java} is older: install openjdk-17-jdk")
        return java

    def prepare(self) -> None:
        java = self.java()
        fetch_maven(
            [f"org.apache.kafka:kafka_2.13:{self.stack.kafka_version}", _LOG4J_SLF4J],
            self.lib_dir.parent,
        )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.server_properties())
        if not (self.data_dir / "meta.properties").exists():
            self._format(java)

    def _format(self, java: Path) -> None:
        """Format the KRaft storage once (first start only)."""
        cluster_id_file = self.state_dir / "cluster.id"
        if not cluster_id_file.exists():
            cluster_id_file.write_text(new_cluster_id() + "\n")
        cluster_id = cluster_id_file.read_text().strip()
        proc = subprocess.run(  # noqa: S603
            [
                str(java), *self._log_opts(), "-cp", f"{self.lib_dir}/*",
                "kafka.tools.StorageTool", "format", *self.format_options(),
                "-t", cluster_id, "-c", str(self.config_file), *self.format_args(),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise StackError(f"kafka storage format failed: {(proc.stdout + proc.stderr)[-500:]}")

    def _log_opts(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'local' / 'kafka-log4j2.properties'}"]

    def argv(self) -> list[str]:
        return jvm_argv(self.java(), self.stack.kafka_heap, f"{self.lib_dir}/*", "kafka.Kafka",
                        str(self.config_file),
                        opts=["-XX:MaxGCPauseMillis=20", *self._log_opts()])

    def client_kwargs(self) -> dict[str, Any]:
        """kafka-python connection arguments the health check uses."""
        return {"bootstrap_servers": f"127.0.0.1:{self.port}"}

    def healthy(self) -> bool:
        """The broker answers a metadata request and lists itself."""
        if not process.port_open("127.0.0.1", self.port):
            return False
        from kafka import KafkaAdminClient  # the client is only needed when we check

        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        try:
            admin = KafkaAdminClient(request_timeout_ms=3000, **self.client_kwargs())
        except Exception:  # noqa: BLE001 - any failure means "not healthy yet"
            return False
        try:
            return bool(admin.describe_cluster().get("brokers"))
        except Exception:  # noqa: BLE001
            return False
        finally:
            admin.close()
