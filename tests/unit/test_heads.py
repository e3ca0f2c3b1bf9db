"""Heads file: round trip, valid probabilities, refusal of mismatched files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from processors.heads import DEFAULT_HEADS, AttnHead, Heads, softmax
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS


def _random_heads(dim: int = 8, k: int = 2, hidden: int = 5, seed: int = 0) -> Heads:
    rng = np.random.default_rng(seed)

    def head(labels: tuple[str, ...]) -> AttnHead:
        f = (k + 2) * dim
        params = {
            "query": rng.normal(size=(k, dim)), "ln_weight": np.ones(f), "ln_bias": np.zeros(f),
            "fc1_weight": rng.normal(size=(hidden, f)), "fc1_bias": rng.normal(size=hidden),
            "fc2_weight": rng.normal(size=(len(labels), hidden)),
            "fc2_bias": rng.normal(size=len(labels)),
        }
        return AttnHead(labels, {n: v.astype(np.float32) for n, v in params.items()},
                        np.zeros(len(labels), np.float32))

    return Heads(head(SENTIMENT_LABELS), head(EMOTION_LABELS), feature_layer=5,
                 meta={"version": "test-v1"})


def _inputs(n: int = 4, length: int = 6, dim: int = 8, seed: int = 1):
    rng = np.random.default_rng(seed)
    tokens = rng.normal(size=(n, length, dim)).astype(np.float32)
    mask = np.ones((n, length), np.int64)
    mask[0, 3:] = 0
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    return tokens, mask, emb


def test_softmax_rows_sum_to_one_even_for_huge_logits() -> None:
    p = softmax(np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]]))
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.all(np.isfinite(p))
    assert p[0, 0] == pytest.approx(1.0)
    assert np.allclose(p[1], 1 / 3)


def test_save_load_round_trip_keeps_predictions_within_fp16(tmp_path: Path) -> None:
    heads = _random_heads()
    heads.emotion.offset[:] = np.linspace(-1, 1, 7)
    path = tmp_path / "h.safetensors"
    heads.save(path)
    back = Heads.load(path)
    assert back.version == "test-v1"
    assert back.feature_layer == 5
    np.testing.assert_allclose(back.emotion.offset, heads.emotion.offset, atol=2e-3)
    s0, e0 = heads.predict(*_inputs())
    s1, e1 = back.predict(*_inputs())
    np.testing.assert_allclose(s0, s1, atol=2e-2)
    np.testing.assert_allclose(e0, e1, atol=2e-2)


def test_padding_does_not_change_the_prediction() -> None:
    heads = _random_heads()
    tokens, mask, emb = _inputs()
    full = heads.sentiment.probs(tokens, mask, emb)[0]
    noisy = tokens.copy()
    noisy[0, 3:] = 100.0  # garbage in padded positions must be ignored
    np.testing.assert_allclose(heads.sentiment.probs(noisy, mask, emb)[0], full, atol=1e-6)
    short = heads.sentiment.probs(tokens[:1, :3], mask[:1, :3], emb[:1])[0]
    np.testing.assert_allclose(short, full, atol=1e-6)


def test_offsets_shift_the_decision() -> None:
    heads = _random_heads()
    heads.emotion.offset[2] = 1e4
    _, e = heads.predict(*_inputs())
    assert np.all(e.argmax(axis=1) == 2)


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make train"):
        Heads.load(tmp_path / "nope.safetensors")


def test_wrong_labels_are_refused(tmp_path: Path) -> None:
    heads = _random_heads()
    heads.sentiment = AttnHead(("bad", "neutral", "good"), heads.sentiment.params,
                               heads.sentiment.offset)
    path = tmp_path / "h.safetensors"
    heads.save(path)
    with pytest.raises(ValueError, match="labels"):
        Heads.load(path)


def test_shipped_heads_are_small_and_give_probabilities() -> None:
    assert DEFAULT_HEADS.stat().st_size < 8 * 1024 * 1024
    heads = Heads.load()
    tokens, mask, emb = _inputs(n=16, dim=heads.dim)
    s, e = heads.predict(tokens, mask, emb)
    assert s.shape == (16, 3) and e.shape == (16, 7)
    for p in (s, e):
        assert np.all(p >= 0) and np.all(p <= 1)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_torch_twin_gives_the_numpy_probabilities() -> None:
    """The torch head traced into the encoder graph computes exactly what AttnHead does,
    padding included."""
    import torch

    from processors.torch_encoder import TorchAttnHead

    heads = _random_heads()
    tokens, mask, emb = _inputs()
    for head in (heads.sentiment, heads.emotion):
        want = head.probs(tokens, mask, emb)
        got = TorchAttnHead(head)(torch.from_numpy(tokens), torch.from_numpy(mask),
                              torch.from_numpy(emb)).numpy()
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_an_ensemble_averages_its_members_logits() -> None:
    """M heads trained from different seeds run as one head: mean logits, then offset."""
    a, b = _random_heads(seed=0), _random_heads(seed=7)
    offset = np.linspace(-0.5, 0.5, 7).astype(np.float32)
    ens = AttnHead.stack([a.emotion, b.emotion], offset)
    assert ens.members == 2
    tokens, mask, emb = _inputs()
    want = (a.emotion.logits(tokens, mask, emb) + b.emotion.logits(tokens, mask, emb)) / 2
    np.testing.assert_allclose(ens.logits(tokens, mask, emb), want + offset, atol=1e-5)
    same = AttnHead.stack([a.emotion, a.emotion], a.emotion.offset)
    np.testing.assert_allclose(same.probs(tokens, mask, emb), a.emotion.probs(tokens, mask, emb),
                               atol=1e-6)


def test_an_ensemble_survives_save_and_load_and_its_torch_twin_agrees(tmp_path: Path) -> None:
    import torch

    from processors.torch_encoder import TorchAttnHead

    a, b = _random_heads(seed=0), _random_heads(seed=3)
    heads = Heads(AttnHead.stack([a.sentiment, b.sentiment], np.zeros(3, np.float32)),
                  AttnHead.stack([a.emotion, b.emotion], np.zeros(7, np.float32)),
                  feature_layer=5, meta={"version": "test-x2"})
    path = tmp_path / "h.safetensors"
    heads.save(path)
    back = Heads.load(path)
    assert back.sentiment.members == back.emotion.members == 2
    assert back.meta["members"] == "2" and back.dim == 8
    tokens, mask, emb = _inputs()
    np.testing.assert_allclose(back.predict(tokens, mask, emb)[0],
                               heads.predict(tokens, mask, emb)[0], atol=2e-2)
    got = TorchAttnHead(back.sentiment)(torch.from_numpy(tokens), torch.from_numpy(mask),
                                    torch.from_numpy(emb)).numpy()
    np.testing.assert_allclose(got, back.sentiment.probs(tokens, mask, emb), atol=1e-5)


def test_a_file_without_the_member_axis_loads_as_one_member(tmp_path: Path) -> None:
    """Heads files written before ensembles (2-D query etc.) still load and predict."""
    from safetensors.numpy import save_file

    heads = _random_heads()
    tensors = {f"{name}.{k}": v[0].astype(np.float16)
               for name, h in (("sentiment", heads.sentiment), ("emotion", heads.emotion))
               for k, v in h.params.items()}
    tensors.update({"sentiment.offset": np.zeros(3, np.float16),
                    "emotion.offset": np.zeros(7, np.float16)})
    meta = {"feature_layer": "5", "version": "old",
            "sentiment_labels": json.dumps(list(SENTIMENT_LABELS)),
            "emotion_labels": json.dumps(list(EMOTION_LABELS))}
    path = tmp_path / "old.safetensors"
    save_file(tensors, str(path), metadata=meta)
    back = Heads.load(path)
    assert back.sentiment.members == 1 and back.sentiment.params["query"].shape == (1, 2, 8)
    np.testing.assert_allclose(back.predict(*_inputs())[1], heads.predict(*_inputs())[1],
                               atol=2e-2)


def _tiny_bert():
    """A 2-layer BERT built from a config (no weights to fetch)."""
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=16, max_position_embeddings=16)
    return BertModel(cfg).eval()


def test_lora_targets_are_every_layers_attention_and_feed_forward_linears() -> None:
    from processors.heads import lora_targets

    names = lora_targets(_tiny_bert())
    assert len(names) == 2 * 6  # query, key, value, attention output, intermediate, output
    assert "encoder.layer.0.attention.self.query" in names
    assert "encoder.layer.1.output.dense" in names
    assert not any(n.startswith(("pooler", "embeddings")) for n in names)


def test_lora_survives_save_and_load_and_merges_as_w_plus_b_a(tmp_path: Path) -> None:
    import torch

    rng = np.random.default_rng(5)
    a = rng.normal(size=(2, 8)).astype(np.float32)  # rank 2, in 8
    b = rng.normal(size=(16, 2)).astype(np.float32)  # out 16 (intermediate)
    heads = _random_heads()
    heads.lora = {"encoder.layer.1.intermediate.dense": (a, b)}
    path = tmp_path / "h.safetensors"
    heads.save(path)
    back = Heads.load(path)
    assert set(back.lora) == {"encoder.layer.1.intermediate.dense"}
    np.testing.assert_allclose(back.lora["encoder.layer.1.intermediate.dense"][0], a, atol=2e-3)

    model = _tiny_bert()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert back.merge_lora(model) == 1
    after = model.state_dict()
    name = "encoder.layer.1.intermediate.dense.weight"
    a16, b16 = back.lora["encoder.layer.1.intermediate.dense"]
    torch.testing.assert_close(after[name], before[name] + torch.from_numpy(b16 @ a16))
    changed = [k for k in after if not torch.equal(after[k], before[k])]
    assert changed == [name]


def test_lora_for_a_layer_the_encoder_lacks_is_refused() -> None:
    heads = _random_heads()
    heads.lora = {"encoder.layer.7.output.dense": (np.zeros((2, 16), np.float32),
                                                   np.zeros((8, 2), np.float32))}
    with pytest.raises(ValueError, match="encoder.layer.7.output.dense"):
        heads.merge_lora(_tiny_bert())
    heads.lora = {"encoder.layer.0.output.dense": (np.zeros((2, 99), np.float32),
                                                   np.zeros((8, 2), np.float32))}
    with pytest.raises(ValueError, match="lacks"):
        heads.merge_lora(_tiny_bert())


def test_a_heads_file_without_lora_leaves_the_encoder_untouched() -> None:
    import torch

    model = _tiny_bert()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert _random_heads().merge_lora(model) == 0
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
