"""Text -> padded token ids and attention mask (numpy), without torch.

Why the ``tokenizers`` library directly: it reads the model's ``tokenizer.json`` in
milliseconds, where importing ``transformers`` costs about a second of the CLI's cold
start. A model without ``tokenizer.json`` (or a hub id) uses ``transformers``'
``AutoTokenizer`` instead; both give the same ids (tests/unit/test_tokenizer.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


class TextTokenizer:
    """Callable: texts -> (input_ids, attention_mask), int64 (B, L), padded to the longest
    and truncated to ``max_length``. Not thread-safe (callers hold a lock)."""

    def __init__(self, model_path: str, max_length: int) -> None:
        self.max_length = max_length
        path = Path(model_path)
        self._fast: Tokenizer | None = None
        if (path / "tokenizer.json").is_file():
            self._fast = Tokenizer.from_file(str(path / "tokenizer.json"))
            pad_token = self._pad_token(path)
            pad_id = self._fast.token_to_id(pad_token)
            # what transformers' fast tokenizer sets for padding=True, truncation=True
            self._fast.enable_truncation(max_length)
            self._fast.enable_padding(pad_id=int(pad_id) if pad_id is not None else 0,
                                      pad_token=pad_token)
        else:
            from transformers import AutoTokenizer

            self._auto = AutoTokenizer.from_pretrained(  # type: ignore[no-untyped-call]
                model_path, local_files_only=path.is_dir())

    @staticmethod
    def _pad_token(path: Path) -> str:
        special = path / "special_tokens_map.json"
        if not special.is_file():
            return "[PAD]"
        value = json.loads(special.read_text(encoding="utf-8")).get("pad_token", "[PAD]")
        return str(value["content"] if isinstance(value, dict) else value)

    def __call__(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._fast is None:
            enc = self._auto(list(texts), padding=True, truncation=True,
                             max_length=self.max_length, return_tensors="np")
            return (np.asarray(enc["input_ids"], np.int64),
                    np.asarray(enc["attention_mask"], np.int64))
        encs = self._fast.encode_batch(list(texts))
        return (np.array([e.ids for e in encs], np.int64),
                np.array([e.attention_mask for e in encs], np.int64))
