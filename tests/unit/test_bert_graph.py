"""The torch-free graph builder against its reference, the torch export of the same weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from processors import bert_graph, int8
from processors.config import resolve_model_dir
from processors.heads import Heads
from processors.tokenizer import TextTokenizer
from processors.torch_encoder import Traceable, export_int8, load_base

TEXTS = [
    "ok",
    "thanks!!",
    "You charged me twice and nobody answers, I'm furious",
    "I love the new app, it is so much faster than the old one",
    "What time do you open on Sunday?",
    "The engineer never showed up and I took a day off work for it. " * 4,
    "Parcel arrived damaged, box soaked, the driver just left it in the rain 😡",
    "Héllo, ça ne marche pas du tout",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return Path(resolve_model_dir(None))


@pytest.fixture(scope="module")
def heads() -> Heads:
    return Heads.load()


@pytest.fixture(scope="module")
def reference(heads: Heads) -> Traceable:
    """The shipped encoder in torch with the adapters merged by Heads.merge_lora."""
    _, model = load_base(None)
    heads.merge_lora(model)
    return Traceable(model, heads).eval()


@pytest.fixture(scope="module")
def batch(model_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return TextTokenizer(str(model_dir), 128)(TEXTS)


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def test_fp32_graph_computes_the_torch_model(model_dir: Path, heads: Heads,
                                             reference: Traceable,
                                             batch: tuple[np.ndarray, np.ndarray]) -> None:
    """Adapters merged in numpy, every layer, pooling and both heads: torch's numbers."""
    weights = bert_graph.load_weights(model_dir)
    assert bert_graph.merge_lora(weights, heads) == len(heads.lora) > 0
    graph = bert_graph.build_fp32(weights, bert_graph.BertShape.read(model_dir), heads)
    onnx.checker.check_model(graph)
    got = int8.OnnxGraph(graph.SerializeToString(), threads=1)(*batch)
    with torch.inference_mode():
        want = [t.numpy() for t in reference(torch.from_numpy(batch[0]),
                                             torch.from_numpy(batch[1]))]
    assert _max_diff(got, want) < 1e-5


def test_int8_graph_matches_the_torch_export(model_dir: Path, heads: Heads,
                                             reference: Traceable,
                                             batch: tuple[np.ndarray, np.ndarray]) -> None:
    """The per-token int8 graph written from the weights gives the labels and (within float
    rounding of the fp32 heads) the scores of the torch export + the same int8 rewrite,
    the path every start took before."""
    ours = bert_graph.build_int8(model_dir, heads)
    example = {"input_ids": torch.from_numpy(batch[0][:2]),
               "attention_mask": torch.from_numpy(batch[1][:2])}
    theirs = export_int8(reference, example, ["embedding", "sentiment", "emotion"],
                         skip_prefixes=bert_graph.HEAD_PREFIXES)
    count = [sum(n.op_type == "MatMulInteger" for n in onnx.load_from_string(g).graph.node)
             for g in (ours, theirs)]
    assert count[0] == count[1] == 36  # 6 linears x 6 layers, heads kept fp32
    got = int8.OnnxGraph(ours, threads=1)(*batch)
    want = int8.OnnxGraph(theirs, threads=1)(*batch)
    assert _max_diff(got, want) < 1e-5
    for g, w in zip(got[1:], want[1:], strict=True):
        np.testing.assert_array_equal(g.argmax(1), w.argmax(1))


def test_adapters_for_a_layer_the_encoder_lacks_are_refused(model_dir: Path,
                                                            heads: Heads) -> None:
    weights = bert_graph.load_weights(model_dir)
    bad = Heads(heads.sentiment, heads.emotion, heads.feature_layer, dict(heads.meta),
                {"encoder.layer.9.attention.self.query": (np.zeros((4, 384), np.float32),
                                                          np.zeros((384, 4), np.float32))})
    with pytest.raises(ValueError, match="lacks"):
        bert_graph.merge_lora(weights, bad)


def test_non_bert_encoders_are_reported_unsupported(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "xlm-roberta", "hidden_size": 8}')
    with pytest.raises(bert_graph.UnsupportedEncoder, match="xlm-roberta"):
        bert_graph.BertShape.read(tmp_path)
    with pytest.raises(bert_graph.UnsupportedEncoder, match="model.safetensors"):
        bert_graph.weights_file(tmp_path)
