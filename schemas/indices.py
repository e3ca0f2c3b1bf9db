"""The contract's search indices: which alias holds what, and how documents are laid out.

Every alias sits over monthly indices ``<alias>-YYYY.MM`` created from one index template
(a JSON file beside this module). The month comes from a field of the document itself, so
a replayed record always lands in the same index under the same ``_id``. The names here are
logical; the running service takes the aliases from ``streams.settings`` (``search_*alias``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class IndexDef:
    """One search alias of the contract."""

    logical: str
    default_alias: str
    template_file: str
    time_field: str  # the document field whose month picks the index
    # a document field written as the external version, so a replayed older state of the
    # document can never overwrite a newer one: an integer (a sequence number), or a
    # date-time, written as epoch milliseconds
    version_field: str | None = None
    # "external": only a higher version replaces the stored one (a state machine's seq: the
    # same seq twice is the same state); "external_gte": an equal one does too (the same
    # event enriched again, e.g. replayed after a model upgrade, replaces its document)
    version_type: Literal["external", "external_gte"] = "external"
    description: str = ""

    @property
    def template_path(self) -> Path:
        return _HERE / self.template_file


FEEDBACK = IndexDef("feedback", "voc-feedback", "index_template.json", "received_at",
                    version_field="received_at", version_type="external_gte",
                    description="EnrichedFeedback, _id = feedback id, version = event time")
FOLLOWUPS = IndexDef("followups", "voc-followups", "followups_index_template.json",
                     "received_at", version_field="seq",
                     description="one case per follow-up with its state and history")
DEADLETTERS = IndexDef("deadletters", "voc-deadletters", "deadletters_index_template.json",
                       "failed_at", description="dead letters with a redacted preview")
AUDIT = IndexDef("audit", "voc-audit", "audit_index_template.json", "at",
                 description="operator actions and received alerts")

INDICES: tuple[IndexDef, ...] = (FEEDBACK, FOLLOWUPS, DEADLETTERS, AUDIT)
