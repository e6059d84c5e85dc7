"""The relay's view of the mirror: the outbox queue, the latest mirrored values, attempt records.

Each method is one mirror transaction, so every state the relay passes through is durable before
the next network call: a batch is marked `unknown` (sent, answer not yet known) before the
request and settled after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from connector import mirror as m
from connector.model import Crm, Decision
from connector.push.relay import Queued
from connector.push.writes import Outcome, PlannedWrite, WriteKind, WriteResult

OPS: Mapping[WriteKind, str] = {WriteKind.STAGE: "stage_update", WriteKind.TASK: "task_create"}
_QUEUE_LIMIT = 1_000_000  # one cycle settles everything due; the mirror pages it oldest first


def outbox_row(write: PlannedWrite, decision: Decision | None) -> m.OutboxRow:
    """The outbox row for `write`: the whole write as payload, so a resumed relay needs nothing else."""
    return m.OutboxRow(
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

    def __init__(self, mirror: m.Mirror, now: datetime | None = None) -> None:
        self._mirror = mirror
        self._now = now

    def queued(self, crm: Crm) -> list[Queued]:
        with self._mirror.reader() as s:
            items = m.pending(s, crm, limit=_QUEUE_LIMIT, now=self._now)
        return [Queued(PlannedWrite.from_json(i.payload), ambiguous=i.status == "unknown") for i in items]

    def current(self, writes: Sequence[PlannedWrite]) -> dict[str, Mapping[str, str | None] | None]:
        """write key -> the target record's latest mirrored properties (None: not mirrored)."""
        wanted: dict[tuple[Crm, str], set[str]] = {}
        for w in writes:
            if w.record_id is not None:
                wanted.setdefault((w.crm, w.object_type), set()).add(w.record_id)
        found: dict[tuple[Crm, str, str], Mapping[str, str | None]] = {}
        with self._mirror.reader() as s:
            for (crm, object_type), ids in wanted.items():
                for rid, rec in m.get_records(s, crm, object_type, ids).items():
                    found[(crm, object_type, rid)] = rec.properties
        return {w.key: found.get((w.crm, w.object_type, w.record_id or "")) for w in writes}

    def begin(self, writes: Sequence[PlannedWrite], operation: str) -> None:
        with self._mirror.transaction() as s:
            for w in writes:
                m.mark_status(s, w.key, "unknown")
                m.record_attempt(s, w.key, f"{operation}:sending")

    def finish(self, results: Sequence[WriteResult], operation: str) -> None:
        with self._mirror.transaction() as s:
            for r in results:
                ids = [r.crm_id] if r.crm_id else []
                if r.outcome is Outcome.SENT:
                    m.mark_sent(s, r.key, crm_ids=ids, http_status=r.status)
                elif r.outcome in (Outcome.FAILED, Outcome.DEAD):
                    m.mark_failed(
                        s,
                        r.key,
                        r.error or r.outcome.value,
                        retryable=r.outcome is Outcome.FAILED,
                        http_status=r.status,
                    )
                else:
                    m.mark_status(s, r.key, r.outcome.value, error=r.error, http_status=r.status)
                outcome = f"{operation}:{r.outcome.value}"
                m.record_attempt(s, r.key, outcome, http_status=r.status, crm_ids=ids, error=r.error)
