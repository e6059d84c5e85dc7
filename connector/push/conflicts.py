"""Judge a write against the latest mirrored values before it is sent: human edits win, echoes
are not re-sent.

The mirror is the only input: the pull just refreshed it, so comparing against it costs no API
call. A person's edit made after the last pull is not visible here; it is caught by the next
cycle's check if the write is still queued, and otherwise the write is the newer decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from connector.push.writes import PlannedWrite, WriteKind


class Verdict(StrEnum):
    SEND = "send"
    APPLIED = "applied"  # the CRM already holds every target value: our echo, or a resend after a crash
    CONFLICT = "conflict"  # someone else changed a target field since the decision read it


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reason: str | None = None


def judge(write: PlannedWrite, current: Mapping[str, str | None] | None) -> Judgement:
    """Compare `write` with the record's latest mirrored properties (None: not in the mirror).

    A field may legitimately hold the value the decision read, the target (already written), or
    "" when the write clears it first and a crash fell between the clear and the set.
    """
    if write.kind is not WriteKind.STAGE or current is None:
        return Judgement(Verdict.SEND)
    if all(current.get(f) == v for f, v in write.properties.items()):
        return Judgement(Verdict.APPLIED)
    for field, target in write.properties.items():
        found = current.get(field)
        allowed = {write.expected.get(field), target}
        if field in write.clear_first:
            allowed |= {"", None}
        if found not in allowed:
            return Judgement(
                Verdict.CONFLICT,
                f"{write.crm.value} {write.object_type} {write.record_id} field {field}: "
                f"decided from {write.expected.get(field)!r}, now {found!r} (kept)",
            )
    return Judgement(Verdict.SEND)


def is_echo(write: PlannedWrite, pulled: Mapping[str, str | None]) -> bool:
    """True when a pulled record shows exactly what `write` set: our own write coming back."""
    return write.kind is WriteKind.STAGE and all(pulled.get(f) == v for f, v in write.properties.items())
