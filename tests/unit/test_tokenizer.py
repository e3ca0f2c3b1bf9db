"""The torch-free tokenizer gives transformers' ids, padding and truncation included."""

from __future__ import annotations

import numpy as np
from transformers import AutoTokenizer

from processors.config import resolve_model_dir
from processors.tokenizer import TextTokenizer

TEXTS = ["ok", "Héllo WORLD ça va? 😡 naïve café", "refund please " * 40, "中文字符 test", "",
         "  tabs\tand\nnewlines  ", "don't won't I'm [PHONE] £20.99"]


def test_ids_and_mask_match_transformers_fast_tokenizer() -> None:
    path = resolve_model_dir(None)
    auto = AutoTokenizer.from_pretrained(path)
    for max_length in (16, 128):
        want = auto(TEXTS, padding=True, truncation=True, max_length=max_length,
                    return_tensors="np")
        ids, mask = TextTokenizer(path, max_length)(TEXTS)
        assert ids.dtype == mask.dtype == np.int64
        np.testing.assert_array_equal(ids, want["input_ids"])
        np.testing.assert_array_equal(mask, want["attention_mask"])


def test_a_model_without_tokenizer_json_uses_transformers(tmp_path) -> None:
    """Only vocab.txt and the configs: the AutoTokenizer fallback, same ids."""
    import shutil
    from pathlib import Path

    src = Path(resolve_model_dir(None))
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "config.json"):
        shutil.copy(src / name, tmp_path / name)
    got = TextTokenizer(str(tmp_path), 32)(TEXTS)
    want = TextTokenizer(str(src), 32)(TEXTS)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
