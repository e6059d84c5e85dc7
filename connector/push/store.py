"""The relay's view of the mirror: the outbox queue, the latest mirrored values, attempt records.

Each method is one mirror transaction, so every state the relay passes through is durable before
the next network call: a batch is marked `unknown` (sent, answer not yet known) before the
request and settled after it. The mirror's `mark_*` calls append the `write_attempts` rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from connector.mirror.audit import OutboxRow
from connector.mirror.db import Mirror
from connector.mirror.outbox import (
    OutboxStatus,
    attempts_for,
    mark_failed,
    mark_sent,
    mark_status,
    pending,
)
from connector.mirror.records import get_records
from connector.model import Crm, Decision
from connector.push.relay import Queued
from connector.push.writes import Outcome, PlannedWrite, WriteKind, WriteResult

OPS: Mapping[WriteKind, str] = {WriteKind.STAGE: "stage_update", WriteKind.TASK: "task_create"}
_QUEUE_LIMIT = 1_000_000  # one cycle settles everything due; the mirror returns it oldest first


def outbox_row(write: PlannedWrite, decision: Decision | None) -> OutboxRow:
    """The outbox row for `write`: the whole write as payload, so a resumed relay needs nothing else."""
    return OutboxRow(
        key=write.key,
        crm=write.crm,
        op=OPS[write.kind],
        person_id=write.person_id,
        payload=write.to_json(),
        object_type=write.object_type,
        record_id=write.record_id,
        decision=decision,
    )


class MirrorStore:
    """`relay.OutboxStore` over `connector.mirror`."""

    def __init__(self, mirror: Mirror, now: datetime | None = None) -> None:
        self._mirror = mirror
        self._now = now

    def queued(self, crm: Crm) -> list[Queued]:
        """Due rows; an ambiguous one carries when it was last attempted (few rows, one query each)."""
        out = []
        with self._mirror.reader() as s:
            for item in pending(s, crm, limit=_QUEUE_LIMIT, now=self._now):
                write = PlannedWrite.from_json(item.payload)
                if item.status is OutboxStatus.UNKNOWN:
                    tried = attempts_for(s, item.key)
                    out.append(Queued(write, ambiguous=True, last_attempt_at=tried[-1].at if tried else None))
                else:
                    out.append(Queued(write))
        return out

    def current(self, writes: Sequence[PlannedWrite]) -> dict[str, Mapping[str, str | None] | None]:
        """write key -> the target record's latest mirrored properties (None: not mirrored)."""
        wanted: dict[tuple[Crm, str], set[str]] = {}
        for w in writes:
            if w.record_id is not None:
                wanted.setdefault((w.crm, w.object_type), set()).add(w.record_id)
        found: dict[tuple[Crm, str, str], Mapping[str, str | None]] = {}
        with self._mirror.reader() as s:
            for (crm, object_type), ids in wanted.items():
                for rid, rec in get_records(s, crm, object_type, ids).items():
                    if not rec.archived:
                        found[(crm, object_type, rid)] = rec.properties
        return {w.key: found.get((w.crm, w.object_type, w.record_id or "")) for w in writes}

    def begin(self, writes: Sequence[PlannedWrite], operation: str) -> None:
        with self._mirror.transaction() as s:
            for w in writes:
                mark_status(s, w.key, OutboxStatus.UNKNOWN, error=f"{operation}: sent, no answer yet")

    def finish(self, results: Sequence[WriteResult], operation: str) -> None:
        with self._mirror.transaction() as s:
            for r in results:
                error = f"{operation}: {r.error}" if r.error else None
                if r.outcome is Outcome.SENT:
                    mark_sent(s, r.key, crm_ids=[r.crm_id] if r.crm_id else [], http_status=r.status)
                elif r.outcome in (Outcome.FAILED, Outcome.DEAD):
                    retryable = r.outcome is Outcome.FAILED
                    mark_failed(s, r.key, error or r.outcome.value, retryable=retryable, http_status=r.status)
                else:
                    mark_status(s, r.key, OutboxStatus(r.outcome.value), error=error, http_status=r.status)
