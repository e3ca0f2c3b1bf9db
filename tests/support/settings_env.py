"""``VOC_*`` variable names against ``streams.settings.Settings``: which field a name sets.

Why shared: every deployment file (compose, the Kubernetes manifests, the systemd units)
configures the service through these variables, and each test of those files must refuse
a name that no setting reads (pydantic-settings ignores unknown ``VOC_*`` names silently).
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from streams.settings import Settings

PREFIX = "VOC_"


def setting_field(key: str, model: type[BaseModel] = Settings) -> FieldInfo | None:
    """The field ``VOC_A__B`` sets (nested groups split on ``__``), or None."""
    path = key.removeprefix(PREFIX).lower().split("__")
    field: FieldInfo | None = None
    for i, name in enumerate(path):
        field = model.model_fields.get(name)
        if field is None:
            return None
        if i < len(path) - 1:
            sub = field.annotation
            if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
                return None
            model = sub
    return field


def is_setting(key: str) -> bool:
    return key.startswith(PREFIX) and setting_field(key) is not None


def is_secret(key: str) -> bool:
    """True when the setting is a ``SecretStr`` (optional or not): a value for a Secret."""
    field = setting_field(key)
    if field is None:
        return False
    annotation: Any = field.annotation
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)
