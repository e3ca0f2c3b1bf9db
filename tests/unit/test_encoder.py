"""The encoder machinery on all-MiniLM-L6-v2 (its torch reference, LoRA adapters): shapes,
normalisation, order, sanity sentences. The shipped e5 model: tests/unit/test_shipped_model.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel

from processors.config import MINILM_ID, ModelConfig
from processors.encoder import EncoderAnalyzer, resolve_model_dir
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS

TEXTS = [
    "ok",
    "I love this, thank you so much!",
    "You charged me twice and nobody answers, I'm furious",
    "My parcel was supposed to arrive on Monday and it is now Friday, still nothing, "
    "and every time I call I wait on hold for forty minutes before the line drops.",
    "What time do you open on Sunday?",
]


@pytest.fixture(scope="module")
def analyzer() -> EncoderAnalyzer:
    # small sub-batches: sorting spans several
    return EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, sub_batch=2))


@pytest.fixture(scope="module")
def fp32() -> EncoderAnalyzer:
    return EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, runtime="torchscript", sub_batch=2))


def test_embeddings_are_unit_length_with_model_dim(analyzer: EncoderAnalyzer) -> None:
    emb = analyzer.embed(TEXTS)
    assert emb.shape == (len(TEXTS), analyzer.hidden_size)
    assert emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_empty_output(analyzer: EncoderAnalyzer) -> None:
    assert analyzer.embed([]).shape == (0, analyzer.hidden_size)
    assert analyzer.analyze([]) == []


def test_order_is_preserved_under_length_sorting(analyzer: EncoderAnalyzer) -> None:
    together = analyzer.embed(TEXTS)
    alone = np.stack([analyzer.embed([t])[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-4)
    reversed_ = analyzer.embed(TEXTS[::-1])[::-1]
    np.testing.assert_allclose(together, reversed_, atol=1e-4)
    sig = analyzer.analyze(TEXTS)
    for s, single in zip(sig, TEXTS, strict=True):
        one = analyzer.analyze([single])[0]
        for k in SENTIMENT_LABELS:
            assert s.sentiment[k] == pytest.approx(one.sentiment[k], abs=1e-4)


def test_matches_sentence_transformers_pooling(analyzer: EncoderAnalyzer,
                                               fp32: EncoderAnalyzer) -> None:
    """Mean pooling over real tokens + L2 norm: same vector as an unpadded single pass
    (fp32) of the encoder with the shipped adapters merged, and the default int8 graph
    within int8 rounding of it."""
    from processors.heads import Heads
    from processors.torch_encoder import load_base

    tok, model = load_base(None)
    Heads.load().merge_lora(model)
    enc = tok([TEXTS[1]], return_tensors="pt")
    out = model(**enc).last_hidden_state[0].detach().numpy().mean(axis=0)
    ref = out / np.linalg.norm(out)
    np.testing.assert_allclose(fp32.embed([TEXTS[1]])[0], ref, atol=1e-4)
    assert analyzer.runtime == "int8"
    assert float(analyzer.embed([TEXTS[1]])[0] @ ref) > 0.97


def test_embedding_from_analyze_equals_embed(analyzer: EncoderAnalyzer) -> None:
    sig = analyzer.analyze(TEXTS)
    np.testing.assert_allclose(np.stack([s.embedding for s in sig]), analyzer.embed(TEXTS),
                               atol=1e-5)


def test_truncation_to_max_length() -> None:
    short = EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, max_length=16))
    long_text = "refund please " * 400
    emb = short.embed([long_text, "refund please"])
    assert emb.shape[0] == 2 and np.all(np.isfinite(emb))


def test_probabilities_are_valid(analyzer: EncoderAnalyzer) -> None:
    for s in analyzer.analyze(TEXTS):
        assert set(s.sentiment) == set(SENTIMENT_LABELS)
        assert set(s.emotion) == set(EMOTION_LABELS)
        for dist in (s.sentiment, s.emotion):
            assert all(0.0 <= p <= 1.0 for p in dist.values())
            assert sum(dist.values()) == pytest.approx(1.0, abs=1e-5)


def _top(d: dict[str, float]) -> str:
    return max(d, key=d.__getitem__)


def test_sanity_sentences(analyzer: EncoderAnalyzer) -> None:
    happy, furious = analyzer.analyze([TEXTS[1], TEXTS[2]])
    assert _top(happy.sentiment) == "positive"
    assert _top(happy.emotion) == "joy"
    assert _top(furious.sentiment) == "negative"
    assert _top(furious.emotion) == "anger"


def test_more_customer_sentences(analyzer: EncoderAnalyzer) -> None:
    cases = {
        "Thanks for sorting my refund so quickly, brilliant service": "positive",
        "Still no internet for the third day, this is ridiculous": "negative",
        "The engineer never showed up and I took a day off work for it": "negative",
        "Great, the new app is so much easier to use": "positive",
    }
    sig = analyzer.analyze(list(cases))
    for (text, want), s in zip(cases.items(), sig, strict=True):
        assert _top(s.sentiment) == want, (text, s.sentiment)


def test_unsupported_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime"):
        EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, runtime="onnx"))  # type: ignore[arg-type]


def test_torchscript_runtime_matches_eager(fp32: EncoderAnalyzer) -> None:
    """The traced encoder gives eager's numbers, at any batch length."""
    eager = EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, runtime="torch"))
    assert fp32.runtime == "torchscript" and eager.runtime == "torch"
    texts = [*TEXTS, "ok", "a much longer message " * 30]
    for got, want in zip(fp32.analyze(texts), eager.analyze(texts), strict=True):
        np.testing.assert_allclose(got.embedding, want.embedding, atol=1e-5)
        for lab in SENTIMENT_LABELS:
            assert abs(got.sentiment[lab] - want.sentiment[lab]) < 1e-4
        for lab in EMOTION_LABELS:
            assert abs(got.emotion[lab] - want.emotion[lab]) < 1e-4
    np.testing.assert_allclose(fp32.embed(texts), eager.embed(texts), atol=1e-5)


def test_untraceable_encoder_falls_back_to_eager(analyzer: EncoderAnalyzer) -> None:
    """A model TorchScript cannot trace still runs, eagerly, with a warning."""
    from processors.torch_encoder import load_base, trace_encoder

    class Untraceable(torch.nn.Module):
        def forward(self, **_: object) -> None:
            raise TypeError("not traceable")

    tok, _ = load_base(None)
    assert trace_encoder(tok, Untraceable(), None, 128) is None  # type: ignore[arg-type]


def test_parallel_sub_batches_give_the_same_results(analyzer: EncoderAnalyzer) -> None:
    """Spreading sub-batches over threads changes the speed, not the answers or their order."""
    serial = EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, parallel=1, sub_batch=2))
    assert analyzer.config.parallel == 2 and serial._pool is None
    texts = TEXTS * 3
    got, want = analyzer.analyze(texts), serial.analyze(texts)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.embedding, w.embedding, atol=1e-5)
        for lab in SENTIMENT_LABELS:
            assert abs(g.sentiment[lab] - w.sentiment[lab]) < 1e-4
        for lab in EMOTION_LABELS:
            assert abs(g.emotion[lab] - w.emotion[lab]) < 1e-4


def test_encoder_adapters_in_the_heads_file_reach_every_runtime(
        analyzer: EncoderAnalyzer, tmp_path) -> None:
    """Low-rank updates in a heads file are merged before the graphs are built: the int8
    graph computes the adapted encoder (close to eager torch on it), not the plain one."""
    from processors.heads import Heads

    heads = Heads.load()
    rng = np.random.default_rng(0)
    name = "encoder.layer.2.attention.self.value"
    a, b = rng.normal(0, 0.1, size=(4, 384)), rng.normal(0, 0.1, size=(384, 4))
    heads.lora = {name: (a.astype(np.float32), b.astype(np.float32))}
    path = tmp_path / "adapted.safetensors"
    heads.save(path)
    eager = EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, runtime="torch", heads_path=path))
    int8 = EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, heads_path=path, sub_batch=2,
                                       cache_dir=tmp_path))
    assert int8.runtime == "int8"
    plain = AutoModel.from_pretrained(resolve_model_dir(MINILM_ID)).get_submodule(name).weight
    model = AutoModel.from_pretrained(resolve_model_dir(MINILM_ID))
    Heads.load(path).merge_lora(model)
    merged = model.get_submodule(name).weight
    delta = torch.from_numpy(heads.lora[name][1].astype(np.float16).astype(np.float32)
                             @ heads.lora[name][0].astype(np.float16).astype(np.float32))
    torch.testing.assert_close(merged, plain + delta)
    got, want, base = int8.embed(TEXTS), eager.embed(TEXTS), analyzer.embed(TEXTS)
    to_adapted, to_plain = (got * want).sum(1), (got * base).sum(1)
    assert float(to_adapted.min()) > 0.95  # int8 rounding of the adapted encoder
    assert np.all(to_adapted > to_plain)  # ... and not the plain one
