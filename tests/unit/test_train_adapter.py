"""Stage-2 training helpers: the frozen embeddings it computes when the heads cache is absent."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from processors.torch_encoder import load_base, mean_pool

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

TEXTS = [
    "the engineer never came and nobody called, third time this month",
    "ok",
    "why was I charged twice?",
    "Love the new app 😍",
    "Parcel arrived two days late and the box was crushed, again. Not happy at all.",
]


@pytest.fixture(scope="module")
def train_adapter():  # noqa: ANN201 - a module
    sys.path.insert(0, str(SCRIPTS))
    try:
        yield importlib.import_module("train_adapter")
    finally:
        sys.path.remove(str(SCRIPTS))


def test_frozen_embeddings_are_each_texts_own_embedding_in_input_order(train_adapter) -> None:
    """Batched, length-sorted and padded, every row is still what the text alone gives."""
    tok, model = load_base(None)
    got = train_adapter.frozen_embeddings(tok, model, TEXTS, max_length=128, device="cpu",
                                          batch=2)
    assert got.shape == (len(TEXTS), model.config.hidden_size)
    with torch.inference_mode():
        for i, text in enumerate(TEXTS):
            enc = tok([text], return_tensors="pt")
            alone = mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])
            alone = torch.nn.functional.normalize(alone, dim=-1)[0].numpy()
            np.testing.assert_allclose(got[i], alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
