"""Judge a write against the latest mirrored values before it is sent: human edits win, echoes
are not re-sent.

The mirror is the only input: the pull just refreshed it, so comparing against it costs no API
call. A person's edit made after the last pull is not visible here; it is caught by the next
cycle's check if the write is still queued, and otherwise the write is the newer decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from connector.push.writes import Outcome, PlannedWrite, WriteKind, WriteResult


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


def supersede(writes: Sequence[PlannedWrite]) -> tuple[list[PlannedWrite], list[WriteResult]]:
    """Keep the newest queued stage write per record (input is oldest first); older ones are
    superseded: the newer one was planned against the same record and carries every field that
    still differs from the newer stage. Also keeps one record out of a batch twice, which HubSpot
    refuses as duplicate ids."""
    newest: dict[tuple[str, str, str | None], PlannedWrite] = {}
    for write in writes:
        if write.kind is WriteKind.STAGE:
            newest[(write.crm.value, write.object_type, write.record_id)] = write
    kept, dropped = [], []
    for write in writes:
        target = (write.crm.value, write.object_type, write.record_id)
        if write.kind is WriteKind.STAGE and newest[target] is not write:
            dropped.append(
                WriteResult(write.key, Outcome.SUPERSEDED, error=f"superseded by {newest[target].key}")
            )
        else:
            kept.append(write)
    return kept, dropped
