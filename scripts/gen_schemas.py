"""Write the JSON Schema of every wire record to schemas/jsonschema/ (checked in).

Downstream teams validate against these files; tests/unit/test_schemas.py fails
when they no longer match schemas/records.py. Run after changing a record:

    python scripts/gen_schemas.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.records import (  # noqa: E402
    AuditEvent,
    DeadLetter,
    EnrichedFeedback,
    FollowUp,
    FollowUpOutcome,
    InboundSMS,
    Subject,
    SurveyReply,
)

OUT_DIR = ROOT / "schemas" / "jsonschema"
# inbound records: what producers may send (validation); outbound: what we emit.
RECORDS: dict[str, tuple[Any, str]] = {
    "inbound_sms": (InboundSMS, "validation"),
    "survey_reply": (SurveyReply, "validation"),
    "followup_outcome": (FollowUpOutcome, "validation"),
    "enriched_feedback": (EnrichedFeedback, "serialization"),
    "followup": (FollowUp, "serialization"),
    "deadletter": (DeadLetter, "serialization"),
    "audit_event": (AuditEvent, "serialization"),
}

# A class renamed in code keeps its published $defs name: the wire title is the contract
# (``Subject`` is ``TopicTag`` on the wire, docs/naming.md).
WIRE_DEF_NAMES: dict[str, str] = {Subject.__name__: str(Subject.model_config["title"])}


class WireNames(GenerateJsonSchema):
    """JSON Schema generation with ``$defs`` keyed by the wire name of each record."""

    def normalize_name(self, name: str) -> str:
        return WIRE_DEF_NAMES.get(name, super().normalize_name(name))


def render() -> dict[str, str]:
    """File name -> file content, deterministic."""
    out = {}
    for name, (model, mode) in RECORDS.items():
        schema = model.model_json_schema(by_alias=True, mode=mode, schema_generator=WireNames)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://voc-pipeline.example/schemas/{name}.json"
        out[f"{name}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for fname, text in render().items():
        (OUT_DIR / fname).write_text(text, encoding="utf-8")
        print(f"wrote {OUT_DIR / fname}")


if __name__ == "__main__":
    main()
