"""Schemas: generated JSON Schemas are current, topics agree with settings, the index
template maps every field of EnrichedFeedback."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.records import EnrichedFeedback, InboundSMS
from schemas.topics import TOPICS
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _gen_module() -> Any:
    spec = importlib.util.spec_from_file_location("gen_schemas", ROOT / "scripts/gen_schemas.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_checked_in_json_schemas_are_current() -> None:
    gen = _gen_module()
    expected = gen.render()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in gen.OUT_DIR.glob("*.json")}
    stale = sorted(n for n in expected if on_disk.get(n) != expected[n])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale and not extra, (
        f"stale {stale}, unexpected {extra}: run `python scripts/gen_schemas.py`")


def test_inbound_schema_uses_wire_names() -> None:
    schema = json.loads((ROOT / "schemas/jsonschema/inbound_sms.json").read_text())
    assert "from" in schema["properties"] and "sender" not in schema["properties"]
    assert set(schema["required"]) >= {"message_id", "from", "body", "received_at", "brand"}
    assert InboundSMS.model_validate({"message_id": "a", "from": "+1", "body": "x",
                                      "received_at": "2026-01-01T00:00:00Z", "brand": "b"})


def test_topics_match_settings_defaults() -> None:
    names = Settings().topics
    for t in TOPICS:
        assert getattr(names, t.logical) == t.default_name
        assert issubclass(t.value, BaseModel) and t.key
    assert len({t.default_name for t in TOPICS}) == len(TOPICS) == 8  # names are unique


def _leaf_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        inner = [a for a in getattr(ann, "__args__", (ann,))
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        if inner:
            out |= _leaf_paths(inner[0], f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


def _mapped_paths(props: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for name, spec in props.items():
        if "properties" in spec:
            out |= _mapped_paths(spec["properties"], f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


def test_index_template_maps_every_enriched_field() -> None:
    tmpl = json.loads((ROOT / "schemas/index_template.json").read_text())
    props = tmpl["template"]["mappings"]["properties"]
    mapped = _mapped_paths(props)
    # emotion.scores is a dict keyed by label: the template lists each label
    wanted = {p for p in _leaf_paths(EnrichedFeedback) if p != "emotion.scores"}
    assert wanted <= mapped, f"unmapped fields: {sorted(wanted - mapped)}"
    assert props["text"]["analyzer"] == "english"
    for kw in ("channel", "brand", "id", "customer_id", "language"):
        assert props[kw]["type"] == "keyword"
    for path in ("sentiment", "emotion", "urgency"):
        assert props[path]["properties"]["label" if path != "urgency" else "level"]["type"] \
            == "keyword"
    assert props["topics"]["properties"]["name"]["type"] == "keyword"
    assert props["is_rant"]["type"] == "boolean"
    assert props["urgency"]["properties"]["score"]["type"] == "float"


def test_one_validation_error_text_names_fields_never_values() -> None:
    import pytest
    from pydantic import ValidationError

    from schemas.errors import describe_validation_error

    secret = "+447700900123 my card 4111"
    with pytest.raises(ValidationError) as info:
        InboundSMS.model_validate({"message_id": "", "from": secret, "body": 7, "brand": secret,
                                   "received_at": secret, "schema_version": 2})
    full = describe_validation_error(info.value)
    assert secret not in full and "received_at:" in full and "schema_version:" in full
    first = describe_validation_error(info.value, limit=1)
    assert first.count(": ") == 1 and first.endswith(f"; and {info.value.error_count() - 1} more")
    with pytest.raises(ValidationError) as top:
        InboundSMS.model_validate([secret])
    assert describe_validation_error(top.value, top="(top)").startswith("(top): ")


def test_one_schema_version_check() -> None:
    import pytest

    from schemas.records import SCHEMA_VERSION, UnsupportedSchemaVersion, check_schema_version

    assert check_schema_version(SCHEMA_VERSION) == SCHEMA_VERSION
    with pytest.raises(UnsupportedSchemaVersion, match="schema_version 2"):
        check_schema_version(2)


def test_sentiment_and_emotion_labels_are_written_out_once() -> None:
    """schemas/labels.py is their one definition; everything else imports it."""
    import re

    from schemas.labels import EMOTION_LABELS, SENTIMENT_LABELS

    def spelled(labels: tuple[str, ...]) -> re.Pattern[str]:
        return re.compile(r",\s*".join(f"[\"']{lab}[\"']" for lab in labels))

    patterns = (spelled(SENTIMENT_LABELS), spelled(EMOTION_LABELS))
    owners = []
    for pkg in ("schemas", "processors", "streams", "training", "bench", "scripts"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if any(p.search(text) for p in patterns):
                owners.append(str(path.relative_to(ROOT)))
    assert owners == ["schemas/labels.py"]


def test_output_records_are_written_at_v2_and_v1_still_reads() -> None:
    """v2 pseudonymised customer_id and added time_corrected / pii.detector: a record an
    older worker left on the enriched topic must still parse; a future version must not."""
    import pytest

    from schemas.records import OUTPUT_SCHEMA_VERSION, UnsupportedSchemaVersion

    v1 = {"schema_version": 1, "id": "sms:SM1", "channel": "sms", "brand": "acme",
          "customer_id": "C1", "received_at": "2026-11-25T18:00:00Z",
          "enriched_at": "2026-11-25T18:00:01Z", "text": "late again", "language": "en",
          "sentiment": {"label": "negative", "score": -0.6},
          "emotion": {"label": "anger", "scores": {"anger": 0.7}},
          "topics": [], "urgency": {"level": "medium", "score": 0.5, "reasons": []},
          "is_rant": False, "pii": {"redacted": False, "kinds": []},
          "model": {"encoder": "e", "version": "v"}}
    old = EnrichedFeedback.model_validate(v1)
    assert old.schema_version == 1 and old.pii.detector == "" and not old.time_corrected
    fresh = EnrichedFeedback.model_validate({**v1, "schema_version": OUTPUT_SCHEMA_VERSION})
    assert fresh.schema_version == OUTPUT_SCHEMA_VERSION == 2
    without = {k: v for k, v in v1.items() if k != "schema_version"}
    assert EnrichedFeedback.model_validate(without).schema_version == 2
    with pytest.raises(ValueError, match="schema_version 3"):
        EnrichedFeedback.model_validate({**v1, "schema_version": 3})
    assert issubclass(UnsupportedSchemaVersion, ValueError)
