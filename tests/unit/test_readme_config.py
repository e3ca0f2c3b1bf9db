"""docs/configuration.md's tables name every setting (and nothing that is not one).

The configuration table moved from the README to docs/configuration.md; the file is read
whole, so a setting documented only in some other doc does not count.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from streams.settings import Settings

CONFIG_DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _env_names(model: type[BaseModel], prefix: str = "VOC_") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names |= _env_names(ann, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def _config_doc() -> str:
    return CONFIG_DOC.read_text(encoding="utf-8")


def _documented(section: str) -> set[str]:
    found: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| `VOC_"):
            continue
        first_cell = row.split("|")[1]
        names = re.findall(r"`(VOC_[A-Z0-9_]+)`", first_cell)
        base = names[0].rsplit("__", 1)[0] if names else ""
        found.update(names)
        # "`VOC_X__MEDIUM` / `__HIGH`" shorthand: complete the suffix from the first name
        found.update(f"{base}{s}" for s in re.findall(r"`(__[A-Z0-9_]+)`", first_cell))
    return found


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = _env_names(Settings) - _documented(_config_doc())
    assert not missing, f"settings missing from docs/configuration.md: {sorted(missing)}"


def test_the_table_names_only_real_settings() -> None:
    unknown = _documented(_config_doc()) - _env_names(Settings)
    assert not unknown, f"docs/configuration.md names settings that do not exist: {sorted(unknown)}"
