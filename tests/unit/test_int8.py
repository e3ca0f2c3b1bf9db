"""Per-token int8 graph: close to fp32, and a message's result never depends on its batch."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from processors import int8
from processors.config import MINILM_ID, ModelConfig
from processors.encoder import EncoderAnalyzer
from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS


def _matmul_graph(w: np.ndarray) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", w.shape[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", w.shape[1]])
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="/layer/dense/MatMul")
    graph = helper.make_graph([node], "g", [x], [y], [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


def test_rewrite_is_close_to_fp32_and_row_independent() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 32)).astype(np.float32)
    x = rng.normal(size=(5, 64)).astype(np.float32)
    x[0] *= 1000  # one row with a huge range must not coarsen the others
    q, count = int8.quantize_per_token(_matmul_graph(w))
    assert count == 1
    assert {n.op_type for n in q.graph.node} >= {"MatMulInteger", "ReduceMax"}
    got = _run(q, x)
    want = x @ w
    rel = np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)
    assert rel.max() < 0.03, rel
    alone = np.concatenate([_run(q, x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_array_equal(got, alone)  # bit-identical alone or batched


def test_skipped_nodes_stay_fp32() -> None:
    w = np.ones((4, 3), np.float32)
    q, count = int8.quantize_per_token(_matmul_graph(w), skip_prefixes=("/layer",))
    assert count == 0 and [n.op_type for n in q.graph.node] == ["MatMul"]


@pytest.fixture(scope="module")
def analyzers() -> tuple[EncoderAnalyzer, EncoderAnalyzer]:
    return (EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, runtime="int8")),
            EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, runtime="torchscript")))


TEXTS = [
    "ok",
    "thanks!!",
    "You charged me twice and nobody answers, I'm furious",
    "I love the new app, it is so much faster than the old one",
    "What time do you open on Sunday?",
    "The engineer never showed up and I took a day off work for it. " * 4,
    "STOP",
    "Parcel arrived damaged, box soaked, the driver just left it in the rain 😡",
]


def test_a_message_gets_the_same_result_in_any_batch(
        analyzers: tuple[EncoderAnalyzer, EncoderAnalyzer]) -> None:
    """The point of per-token scales: batch-mates (here a shouting, very long message)
    do not move anyone else's numbers, so labels never flip with load."""
    q, _ = analyzers
    assert q.runtime == "int8"
    together = q.analyze(TEXTS)
    mates = ["AAAAAARGH!!!!! " * 60, "x"]
    for i, text in enumerate(TEXTS):
        alone = q.analyze([text])[0]
        mixed = q.analyze([mates[0], text, mates[1]])[1]
        for other in (alone, mixed):
            np.testing.assert_allclose(other.embedding, together[i].embedding, atol=1e-5)
            for lab in SENTIMENT_LABELS:
                assert abs(other.sentiment[lab] - together[i].sentiment[lab]) < 1e-5
            for lab in EMOTION_LABELS:
                assert abs(other.emotion[lab] - together[i].emotion[lab]) < 1e-5


def test_int8_agrees_with_fp32(analyzers: tuple[EncoderAnalyzer, EncoderAnalyzer]) -> None:
    q, f = analyzers
    for a, b in zip(q.analyze(TEXTS), f.analyze(TEXTS), strict=True):
        assert float(a.embedding @ b.embedding) > 0.95
        assert max(abs(a.sentiment[k] - b.sentiment[k]) for k in SENTIMENT_LABELS) < 0.1
        assert max(abs(a.emotion[k] - b.emotion[k]) for k in EMOTION_LABELS) < 0.1
    np.testing.assert_allclose(np.linalg.norm(q.embed(TEXTS), axis=1), 1.0, atol=1e-5)


def test_a_graph_that_cannot_be_built_falls_back_to_torchscript(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path) -> None:
    """An encoder the torch-free builder cannot write runs on torch; if even the torch
    export fails, as fp32 TorchScript, with warnings."""
    from processors import bert_graph, torch_encoder

    def unsupported(*_: object, **__: object) -> bytes:
        raise bert_graph.UnsupportedEncoder("model_type 'xlm' is not 'bert'")

    def broken(*_: object, **__: object) -> bytes:
        raise RuntimeError("exporter does not support this model")

    monkeypatch.setattr(bert_graph, "build_int8", unsupported)
    monkeypatch.setattr(torch_encoder, "export_int8", broken)
    with caplog.at_level(logging.WARNING):
        a = EncoderAnalyzer(ModelConfig(encoder=MINILM_ID, runtime="int8", cache_dir=tmp_path))
    assert a.runtime == "torchscript"
    assert "no torch-free int8 graph" in caplog.text
    assert "cannot run as per-token int8" in caplog.text
    assert a.analyze(["thanks"])[0].sentiment["positive"] > 0.5


def test_build_exports_the_module_it_is_given() -> None:
    """A tiny module through the whole build: export, rewrite, run."""

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(10, 8)
            self.dense = torch.nn.Linear(8, 4)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                    ) -> tuple[torch.Tensor]:
            h = self.dense(self.emb(input_ids)) * attention_mask[..., None]
            return (h.sum(1),)

    torch.manual_seed(0)
    tiny = Tiny().eval()
    ids = torch.tensor([[1, 2, 3], [4, 5, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    from processors.torch_encoder import export_int8

    graph = int8.OnnxGraph(export_int8(tiny, {"input_ids": ids, "attention_mask": mask},
                                       ["out"]), threads=1)
    got = graph(ids.numpy(), mask.numpy())[0]
    with torch.inference_mode():
        want = tiny(ids, mask)[0].numpy()
    np.testing.assert_allclose(got, want, atol=0.05 * np.abs(want).max())
