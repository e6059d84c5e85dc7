"""`revops-sync why`: everything the mirror knows about one person, in time order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.people import resolve_person
from connector.mirror.records import history
from connector.model import Stage

EventKind = Literal["version", "decision", "write", "attempt"]


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: datetime
    kind: EventKind
    summary: str
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Timeline:
    person_id: str
    email: str | None
    stage: Stage | None
    events: tuple[TimelineEvent, ...]


def person_timeline(session: Session, email_or_id: str) -> Timeline | None:
    """Record versions, decisions (rule, inputs, mapping version) and writes with their results."""
    pid = resolve_person(session, email_or_id)
    if pid is None:
        return None
    conn = session.connection()
    people = t.PEOPLE.c
    aliases = [pid, *conn.execute(select(people.person_id).where(people.merged_into == pid)).scalars()]
    email = conn.execute(select(people.email).where(people.person_id == pid)).scalar()
    stage = conn.execute(select(t.PERSON_STAGES.c.stage).where(t.PERSON_STAGES.c.person_id == pid)).scalar()
    events = [*_versions(session, pid), *_decisions(session, aliases), *_writes(session, aliases)]
    events.sort(key=lambda e: (e.at, e.kind))
    return Timeline(pid, email, Stage(stage) if stage else None, tuple(events))


def _versions(session: Session, pid: str) -> list[TimelineEvent]:
    ids = t.IDENTITIES.c
    owned = select(ids.crm, ids.object_type, ids.record_id).where(ids.person_id == pid)
    versions = history(lambda c: tuple_(c.crm, c.object_type, c.record_id).in_(owned))
    stmt = select(versions)
    return [
        TimelineEvent(
            r.modified_at,  # when the CRM says it changed; pulled_at is in the detail
            "version",
            f"{r.crm} {r.object_type} {r.record_id} v{r.version_no}" + (" (archived)" if r.archived else ""),
            {
                "modified_at": r.modified_at.isoformat(),
                "run_id": r.run_id,
                "properties": json.loads(r.properties),
            },
        )
        for r in session.connection().execute(stmt)
    ]


def _decisions(session: Session, pids: list[str]) -> list[TimelineEvent]:
    dec = t.DECISIONS.c
    rows = session.connection().execute(select(t.DECISIONS).where(dec.person_id.in_(pids)))
    events = []
    for r in rows:
        payload = json.loads(r.payload)
        what = (
            f"{payload.get('from_stage')} -> {payload.get('to_stage')}"
            if r.kind == "transition"
            else (payload.get("subject") or payload.get("reason") or "")
        )
        events.append(
            TimelineEvent(
                r.decided_at,
                "decision",
                f"{r.kind} {what} by rule {r.rule_id} (mapping {r.mapping_version})",
                {"id": r.id, "run_id": r.run_id, "inputs": json.loads(r.inputs), "payload": payload},
            )
        )
    return events


def _writes(session: Session, pids: list[str]) -> list[TimelineEvent]:
    out, att = t.OUTBOX.c, t.ATTEMPTS.c
    conn = session.connection()
    events = []
    keys = []
    for r in conn.execute(select(t.OUTBOX).where(out.person_id.in_(pids))):
        keys.append(r.key)
        target = f"{r.crm} {r.object_type or ''} {r.record_id or ''}".strip()
        events.append(
            TimelineEvent(
                r.created_at,
                "write",
                f"{r.op} -> {target}: {r.status}",
                {"key": r.key, "decision_id": r.decision_id, "attempts": r.attempts, "payload": r.payload},
            )
        )
    if keys:
        for a in conn.execute(select(t.ATTEMPTS).where(att.key.in_(keys))):
            status = f" HTTP {a.http_status}" if a.http_status else ""
            events.append(
                TimelineEvent(
                    a.at,
                    "attempt",
                    f"{a.outcome}{status}" + (f": {a.error}" if a.error else ""),
                    {"key": a.key, "crm_ids": json.loads(a.crm_ids)},
                )
            )
    return events
