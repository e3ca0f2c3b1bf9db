"""The built int8 encoder graphs on disk, so a start loads them instead of building them.

Why: building (reading the weights, merging adapters, writing and quantizing the graph)
takes seconds and the weights' memory; loading a cached graph is ONNX Runtime alone.
Layout: ``<root>/<key>/encoder.onnx`` plus ``manifest.json`` with its sha256. The key
hashes the encoder's weights and config, the heads file (heads and adapters) and
``bert_graph.BUILDER_VERSION``, so new weights or a changed builder give a
new directory. A build is written to a temporary directory and renamed into place
(atomic: a crash or a parallel start never leaves half a graph), and a file whose
checksum does not match is rebuilt, never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from processors import bert_graph
from processors.checksum import file_sha256
from processors.heads import Heads

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path.home() / ".cache" / "voc-pipeline" / "models"
_GRAPH = "encoder.onnx"
_MANIFEST = "manifest.json"


def cache_key(model_dir: Path, heads_path: Path) -> str:
    """Hash of everything the graphs are built from (24 hex digits)."""
    h = hashlib.sha256(bert_graph.BUILDER_VERSION.encode())
    for part in (bert_graph.weights_file(model_dir), model_dir / "config.json", heads_path):
        h.update(part.name.encode())
        h.update(file_sha256(part).encode())
    return h.hexdigest()[:24]


@dataclass(frozen=True)
class CachedGraph:
    """The serialized graph (embedding, sentiment, emotion) and where it is stored."""

    graph: bytes
    path: Path
    built: bool  # True when this call built them (False: loaded from the cache)


def _read(path: Path) -> bytes | None:
    """The graph in ``path`` if present and its checksum matches, else None."""
    try:
        manifest = json.loads((path / _MANIFEST).read_text(encoding="utf-8"))
        data = (path / _GRAPH).read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(data).hexdigest() != manifest.get("files", {}).get(_GRAPH):
        log.warning("cached encoder graph %s fails its checksum; rebuilding", path / _GRAPH)
        return None
    return data


def build(model_dir: Path, heads_path: Path, root: Path | None = None,
          force: bool = False) -> CachedGraph:
    """Load the graph for these weights from the cache, building it first if absent,
    stale or corrupt (or when ``force``). Torch-free."""
    root = root or DEFAULT_ROOT
    key = cache_key(model_dir, heads_path)
    final = root / key
    if not force and (graph := _read(final)) is not None:
        return CachedGraph(graph, final, built=False)
    graph = bert_graph.build_int8(model_dir, Heads.load(heads_path))
    try:
        _store(root, key, final, graph, model_dir, heads_path)
    except OSError as exc:  # a read-only or full disk: run from memory, build next start too
        log.warning("cannot store the encoder graph in %s (%s); using it from memory",
                    root, exc)
        return CachedGraph(graph, final, built=True)
    log.info("built the int8 encoder graph into %s", final)
    return CachedGraph(graph, final, built=True)


def _store(root: Path, key: str, final: Path, graph: bytes, model_dir: Path,
           heads_path: Path) -> None:
    """Write ``graph`` and its manifest to a temporary directory, then rename it to
    ``final`` (replacing a stale or corrupt one)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        (tmp / _GRAPH).write_bytes(graph)
        files = {_GRAPH: hashlib.sha256(graph).hexdigest()}
        manifest = {"key": key, "builder": bert_graph.BUILDER_VERSION, "files": files,
                    "encoder": str(model_dir), "heads": str(heads_path)}
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for f in tmp.iterdir():  # on disk before the rename makes them visible
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():  # stale/corrupt, forced, or another process won the race
            trash = Path(tempfile.mkdtemp(prefix=f".{key}-old-", dir=root))
            with contextlib.suppress(OSError):  # removed by the other process meanwhile
                final.rename(trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process renamed its build first
            tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
