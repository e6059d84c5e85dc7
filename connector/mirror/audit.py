"""Decisions, the canonical stage they move, and the outbox rows they cause: one transaction.

`save_decisions` is idempotent: a decision whose key is already stored, or a transition whose
`from_stage` is no longer the person's current stage (a replay after its first copy committed),
is ignored together with its outbox rows. New transitions append to `stage_history` — the
funnel's source of truth — and move `person_stages`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.identity import survivors
from connector.mirror.sqlutil import chunks, dumps, insert_ignore, now_utc, upsert
from connector.model import Crm, Decision, Stage, StageChange, StageTransition, TaskDecision


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One write to send, keyed by its idempotency key; `payload` is JSON text (PlannedWrite.to_json())."""

    key: str
    crm: Crm
    op: str
    person_id: str
    payload: str
    object_type: str | None = None
    record_id: str | None = None
    decision: Decision | None = None  # the very object passed to save_decisions, linking the audit row
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SaveResult:
    decisions_new: int = 0
    decisions_dup: int = 0
    stale: int = 0
    outbox_new: int = 0
    outbox_dup: int = 0
    payload_mismatch: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class StageEntry:
    person_id: str
    stage: Stage
    entered_at: datetime
    rule_id: str | None
    decision_id: int | None


def _hash(*parts: Any) -> str:
    return hashlib.sha256(dumps(list(parts)).encode()).hexdigest()


def decision_key(decision: Decision, since: datetime | None = None) -> str:
    """Stable idempotency key; for a transition `since` is when the person entered `from_stage`."""
    why = decision.why
    if isinstance(decision, StageTransition):
        from_stage = decision.from_stage.value if decision.from_stage else None
        return _hash(
            "transition",
            decision.person_id,
            from_stage,
            decision.to_stage.value,
            why.rule_id,
            why.mapping_version,
            since.isoformat() if since else None,
        )
    if isinstance(decision, TaskDecision):
        return _hash(
            "task",
            why.rule_id,
            decision.person_id,
            decision.crm.value,
            decision.subject,
            decision.due.date().isoformat(),
            why.mapping_version,
        )
    target = (
        [decision.record.crm.value, decision.record.object_type, decision.record.record_id]
        if (decision.record)
        else None
    )
    return _hash(
        "skipped",
        decision.person_id,
        why.rule_id,
        decision.reason,
        target,
        decision.field,
        why.mapping_version,
    )


def _payload(decision: Decision) -> dict[str, Any]:
    if isinstance(decision, StageTransition):
        return {"from_stage": decision.from_stage, "to_stage": decision.to_stage}
    if isinstance(decision, TaskDecision):
        return {
            "crm": decision.crm,
            "subject": decision.subject,
            "body": decision.body,
            "due": decision.due.isoformat(),
            "priority": decision.priority,
            "owner_id": decision.owner_id,
            "targets": [[r.crm.value, r.object_type, r.record_id] for r in decision.targets],
        }
    record = decision.record
    return {
        "reason": decision.reason,
        "field": decision.field,
        "record": [record.crm.value, record.object_type, record.record_id] if record else None,
    }


def _current(session: Session, person_ids: Sequence[str]) -> dict[str, tuple[str, datetime]]:
    st = t.PERSON_STAGES.c
    found: dict[str, tuple[str, datetime]] = {}
    for part in chunks(list(set(person_ids))):
        for pid, stage, since in session.connection().execute(
            select(st.person_id, st.stage, st.since).where(st.person_id.in_(part))
        ):
            found[pid] = (stage, since)
    return found


def _existing(session: Session, column: Any, keys: Sequence[str], *extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in chunks(list(set(keys))):
        for row in session.connection().execute(select(column, *extra).where(column.in_(part))):
            found[row[0]] = row[1] if extra else True
    return found


def save_decisions(
    session: Session,
    run_id: int | None,
    decisions: Sequence[Decision],
    outbox_rows: Sequence[OutboxRow] = (),
) -> SaveResult:
    """Audit rows + stage moves + outbox rows, in the caller's transaction; duplicates ignored."""
    owner = survivors(session, [d.person_id for d in decisions])
    current = _current(session, list(owner.values()))
    keyed: list[tuple[Decision, str]] = []
    dropped: set[int] = set()
    stale = 0
    for decision in decisions:
        pid = owner.get(decision.person_id, decision.person_id)
        since = None
        if isinstance(decision, StageTransition):
            stage, since = current.get(pid, (None, None))
            from_stage = decision.from_stage.value if decision.from_stage else None
            if from_stage != stage:
                stale += 1
                dropped.add(id(decision))
                continue
            current[pid] = (decision.to_stage.value, decision.entered_at)
        keyed.append((decision, decision_key(decision, since)))
    stored = _existing(session, t.DECISIONS.c.key, [k for _, k in keyed])
    fresh: dict[str, Decision] = {}
    for decision, key in keyed:
        if key in stored or key in fresh:
            dropped.add(id(decision))
        else:
            fresh[key] = decision
    if fresh:
        rows = [_decision_row(run_id, k, d) for k, d in fresh.items()]
        session.connection().execute(t.DECISIONS.insert(), rows)
    ids = _existing(session, t.DECISIONS.c.key, list(fresh), t.DECISIONS.c.id)
    _move_stages(session, [(ids[k], d) for k, d in fresh.items() if isinstance(d, StageTransition)], owner)
    decision_ids = {id(d): ids[k] for k, d in fresh.items()}
    new_out, dup_out, mismatch = _save_outbox(session, outbox_rows, decision_ids, dropped)
    return SaveResult(len(fresh), len(keyed) - len(fresh), stale, new_out, dup_out, mismatch)


def _decision_row(run_id: int | None, key: str, decision: Decision) -> dict[str, Any]:
    return {
        "key": key,
        "run_id": run_id,
        "person_id": decision.person_id,
        "kind": decision.kind,
        "rule_id": decision.why.rule_id,
        "mapping_version": decision.why.mapping_version,
        "inputs": dumps(dict(decision.why.inputs)),
        "payload": dumps(_payload(decision)),
        "decided_at": decision.why.decided_at,
    }


def _move_stages(
    session: Session, moves: Sequence[tuple[int, StageTransition]], owner: dict[str, str]
) -> None:
    if not moves:
        return
    entries = [
        {
            "person_id": owner.get(d.person_id, d.person_id),
            "stage": d.to_stage.value,
            "entered_at": d.entered_at,
            "rule_id": d.why.rule_id,
            "decision_id": did,
        }
        for did, d in moves
    ]
    session.connection().execute(t.STAGE_HISTORY.insert(), entries)
    latest = {e["person_id"]: e for e in entries}  # later moves in the batch win
    rows = [
        {
            "person_id": p,
            "stage": e["stage"],
            "since": e["entered_at"],
            "rule_id": e["rule_id"],
            "decision_id": e["decision_id"],
        }
        for p, e in latest.items()
    ]
    upsert(session, t.PERSON_STAGES, rows, ("stage", "since", "rule_id", "decision_id"))


def _save_outbox(
    session: Session, rows: Sequence[OutboxRow], decision_ids: dict[int, int], dropped: set[int]
) -> tuple[int, int, tuple[str, ...]]:
    """Insert outbox rows of kept decisions; a stored key is a dup (reported if its payload differs)."""
    kept = [r for r in rows if r.decision is None or id(r.decision) not in dropped]
    stored = _existing(session, t.OUTBOX.c.key, [r.key for r in kept], t.OUTBOX.c.payload)
    mismatch = tuple(sorted({r.key for r in kept if r.key in stored and stored[r.key] != r.payload}))
    now = now_utc()
    fresh = {
        r.key: {
            "key": r.key,
            "decision_id": decision_ids.get(id(r.decision)) if r.decision else None,
            "person_id": r.person_id,
            "crm": r.crm.value,
            "op": r.op,
            "object_type": r.object_type,
            "record_id": r.record_id,
            "payload": r.payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": r.next_attempt_at,
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
            "crm_ids": "[]",
            "last_http_status": None,
            "last_error": None,
        }
        for r in kept
        if r.key not in stored
    }
    insert_ignore(session, t.OUTBOX, list(fresh.values()))
    return len(fresh), len(rows) - len(fresh), mismatch


def funnel_entries(session: Session, since: datetime | None = None) -> list[StageEntry]:
    """Every canonical stage entry (optionally from `since`), oldest first: the report's input."""
    hist = t.STAGE_HISTORY.c
    stmt = select(hist.person_id, hist.stage, hist.entered_at, hist.rule_id, hist.decision_id)
    if since is not None:
        stmt = stmt.where(hist.entered_at >= since)
    rows = session.connection().execute(stmt.order_by(hist.entered_at, hist.id))
    return [StageEntry(p, Stage(s), at, rule, did) for p, s, at, rule, did in rows]


def current_stages(session: Session) -> dict[str, StageChange]:
    st = t.PERSON_STAGES.c
    rows = session.connection().execute(select(st.person_id, st.stage, st.since, st.rule_id))
    return {p: StageChange(Stage(s), since, rule) for p, s, since, rule in rows}


def decision_inputs(raw: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(raw)
    return parsed
