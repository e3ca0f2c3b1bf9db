"""Where each encoder's trained files live: one folder per encoder family.

Why one owner: the heads, the customer-domain calibration and the intensity model are
fitted on one encoder's outputs and are meaningless on another's. The encoder chosen in
``ModelConfig.encoder`` picks the folder; everything that loads a trained file asks here.
all-MiniLM-L6-v2's files stay at the top of ``processors/models/`` (where they always
were); multilingual-e5-small's (either vocabulary: the Latin cut gives the same vectors for
the texts it covers) are in ``processors/models/multilingual-e5-small/``.
"""

from __future__ import annotations

from pathlib import Path

from processors.e5_files import E5_ID, E5_IDS
from processors.language import LANGUAGES

MODELS_DIR = Path(__file__).resolve().parent / "models"
HEADS_FILE = "heads.safetensors"
CALIBRATION_FILE = "customer_calibration.json"
INTENSITY_FILE = "intensity.json"
TRAINING_RESULT_FILE = "training_result.json"


def bundle_dir(encoder: str | None) -> Path:
    """The folder of trained files for ``encoder`` (None = all-MiniLM-L6-v2). An encoder
    with no folder of its own gets MiniLM's, whose heads then refuse it by shape (or set
    ``VOC_ENRICH__MODEL__HEADS_PATH``)."""
    if encoder in E5_IDS:
        return MODELS_DIR / E5_ID  # the same heads serve both vocabularies
    return MODELS_DIR


def model_languages(encoder: str | None) -> frozenset[str]:
    """The languages the encoder's heads were trained and measured for: a message in
    another one is tagged ``language_supported = false`` and its model signals count half
    in urgency. all-MiniLM-L6-v2 is English-only; multilingual-e5-small's heads learned
    from our customer set in all of ``LANGUAGES`` (bench/quality.py reports each)."""
    return frozenset(LANGUAGES) if encoder in E5_IDS else frozenset({"en"})


def heads_file(encoder: str | None) -> Path:
    return bundle_dir(encoder) / HEADS_FILE


def calibration_file(encoder: str | None) -> Path:
    return bundle_dir(encoder) / CALIBRATION_FILE


def intensity_file(encoder: str | None) -> Path:
    return bundle_dir(encoder) / INTENSITY_FILE
