"""The on-disk int8 graph: built once, loaded after, identical results, never half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from processors import bert_graph, int8, model_cache
from processors.config import MINILM_ID, EnrichConfig, ModelConfig, resolve_model_dir
from processors.encoder import EncoderAnalyzer
from processors.heads import DEFAULT_HEADS, Heads
from processors.pipeline import Enricher
from processors.tokenizer import TextTokenizer
from schemas.records import InboundSMS

TEXTS = ["ok", "You charged me twice and nobody answers, I'm furious",
         "I love the new app, it is so much faster", "the engineer never came " * 8]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return Path(resolve_model_dir(MINILM_ID))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("models")
    first = model_cache.build(model_dir, DEFAULT_HEADS, root)
    assert first.built and first.path.parent == root
    return root


def test_second_start_loads_what_the_first_built(cache: Path, model_dir: Path) -> None:
    again = model_cache.build(model_dir, DEFAULT_HEADS, cache)
    assert not again.built
    assert sorted(p.name for p in cache.iterdir()) == [again.path.name]  # no temp dirs left
    assert sorted(p.name for p in again.path.iterdir()) == ["encoder.onnx", "manifest.json"]


def test_cached_graph_gives_the_in_memory_graphs_labels_and_scores(
        cache: Path, model_dir: Path) -> None:
    """A message's labels and scores from the cached graph, through the analyzer and the
    whole enrichment, are exactly those of the graph built in memory from the same weights."""
    analyzer = EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, cache_dir=cache))
    assert analyzer.runtime == "int8" and analyzer.cache_path is not None
    assert analyzer.cache_path.parent == cache
    in_memory = int8.OnnxGraph(bert_graph.build_int8(model_dir, Heads.load()), threads=1)
    tokenizer = TextTokenizer(str(model_dir), 128)
    for text in TEXTS:
        emb, sent, emo = in_memory(*tokenizer([text]))
        got = analyzer.analyze([text])[0]
        np.testing.assert_array_equal(got.embedding, emb[0])
        assert list(got.sentiment.values()) == [float(p) for p in sent[0]]
        assert list(got.emotion.values()) == [float(p) for p in emo[0]]
    enricher = Enricher(EnrichConfig(model=ModelConfig(encoder=MINILM_ID, cache_dir=cache)),
                        warm_language=False)
    item = InboundSMS.model_validate({"message_id": "m1", "from": "+447700900000",
                                      "body": TEXTS[1], "received_at": "2026-01-01T00:00:00Z",
                                      "brand": "b"})
    doc = enricher.enrich_one(item).feedback
    emb, sent, emo = in_memory(*tokenizer([doc.text]))
    assert doc.sentiment.label == "negative" == ("negative", "neutral", "positive")[
        int(sent[0].argmax())]
    # the reported emotion is the graph's, through the customer-domain layer
    assert enricher.calibration is not None
    expected = enricher.calibration.emotion(
        {k: float(p) for k, p in zip(doc.emotion.scores, emo[0], strict=True)}, emb[0])
    assert doc.emotion.scores == {k: round(p, 4) for k, p in expected.items()}


def test_a_corrupt_graph_is_rebuilt_not_loaded(cache: Path, model_dir: Path,
                                               tmp_path: Path) -> None:
    root = tmp_path / "models"
    shutil.copytree(cache, root)
    (graph_file,) = root.glob("*/encoder.onnx")
    good = graph_file.read_bytes()
    graph_file.write_bytes(good[:1000] + b"\0" * 64 + good[1064:])
    rebuilt = model_cache.build(model_dir, DEFAULT_HEADS, root)
    assert rebuilt.built and rebuilt.graph == good
    assert graph_file.read_bytes() == good


def test_key_follows_the_heads_file_and_builder_version(
        model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = model_cache.cache_key(model_dir, DEFAULT_HEADS)
    assert model_cache.cache_key(model_dir, DEFAULT_HEADS) == key
    heads = Heads.load()
    heads.meta["version"] = "other"
    other = tmp_path / "h.safetensors"
    heads.save(other)
    assert model_cache.cache_key(model_dir, other) != key
    monkeypatch.setattr(bert_graph, "BUILDER_VERSION", "bert-graph-test")
    assert model_cache.cache_key(model_dir, DEFAULT_HEADS) != key


def test_a_cache_that_cannot_be_written_still_gives_the_graph(
        cache: Path, model_dir: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """A read-only root filesystem (a hardened pod) must not stop the worker: the graph is
    used from memory, with a warning."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache directory should be")
    with caplog.at_level("WARNING"):
        got = model_cache.build(model_dir, DEFAULT_HEADS, blocked / "models")
    assert got.built and "using it from memory" in caplog.text
    (cached,) = cache.glob("*/encoder.onnx")
    assert got.graph == cached.read_bytes()
