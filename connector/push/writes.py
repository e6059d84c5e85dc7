"""The values the planner, the outbox and the writers exchange: one planned write, one result.

A `PlannedWrite` is everything the relay needs to send a write and to judge it later, so the
outbox row stores it whole (as JSON) and a resumed relay needs nothing but the row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from connector.model import Crm, TargetRef


class WriteKind(StrEnum):
    STAGE = "stage"  # update stage fields on an existing person record
    TASK = "task"  # create (HubSpot) or upsert (Salesforce) a follow-up task


class Outcome(StrEnum):
    """How one write ended in one attempt; mirrors the outbox statuses it leads to."""

    SENT = "sent"  # the CRM holds the effect (written now, or found already there)
    FAILED = "failed"  # retryable: stays queued for the next cycle
    DEAD = "dead"  # permanent (validation, deleted record): dead-lettered with the CRM's message
    CONFLICT = "conflict"  # a person changed the field since the decision: not sent
    UNKNOWN = "unknown"  # sent but the answer was lost: resolve before resending
    SUPERSEDED = "superseded"  # a newer queued write to the same record replaces it


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """One CRM write with its idempotency key, in the CRM's own vocabulary.

    `expected` holds the target fields' values the decision read: the human-edit check compares
    them with the latest mirrored values. `clear_first` names HubSpot forward-only properties that
    must be set to "" in an earlier request (a backward lifecycle move).
    """

    key: str
    crm: Crm
    kind: WriteKind
    object_type: str  # HubSpot contacts/tasks; Salesforce Lead/Contact/Task
    record_id: str | None  # the record updated; None for a task (created)
    person_id: str
    rule_id: str
    mapping_version: str
    properties: Mapping[str, str]
    expected: Mapping[str, str | None] = field(default_factory=dict)
    clear_first: tuple[str, ...] = ()
    associations: tuple[TargetRef, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "key": self.key,
                "crm": self.crm.value,
                "kind": self.kind.value,
                "object_type": self.object_type,
                "record_id": self.record_id,
                "person_id": self.person_id,
                "rule_id": self.rule_id,
                "mapping_version": self.mapping_version,
                "properties": dict(self.properties),
                "expected": dict(self.expected),
                "clear_first": list(self.clear_first),
                "associations": [[t.crm.value, t.object_type, t.record_id] for t in self.associations],
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> PlannedWrite:
        raw: dict[str, Any] = json.loads(text)
        return cls(
            key=raw["key"],
            crm=Crm(raw["crm"]),
            kind=WriteKind(raw["kind"]),
            object_type=raw["object_type"],
            record_id=raw["record_id"],
            person_id=raw["person_id"],
            rule_id=raw["rule_id"],
            mapping_version=raw["mapping_version"],
            properties=raw["properties"],
            expected=raw.get("expected", {}),
            clear_first=tuple(raw.get("clear_first", ())),
            associations=tuple(TargetRef(Crm(c), o, r) for c, o, r in raw.get("associations", ())),
        )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The result of one write in one attempt; `error` is the CRM's message, never a credential."""

    key: str
    outcome: Outcome
    crm_id: str | None = None
    error: str | None = None
    status: int | None = None


def stable_key(*parts: object) -> str:
    """sha256 over the parts, each JSON-encoded with sorted keys: same inputs, same key, everywhere."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, separators=(",", ":"), default=str).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()
