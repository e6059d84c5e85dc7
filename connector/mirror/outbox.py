"""The outbox repository: what the relay sends, what came back, and what is dead-lettered.

Each `mark_*` call both moves the row's status and appends a `write_attempts` row, so the
history of every key is complete. Errors are scrubbed of credentials before they are stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.scrub import scrub
from connector.mirror.sqlutil import chunks, dumps, now_utc
from connector.model import Crm


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # retryable; due again at next_attempt_at
    DEAD = "dead"  # permanent; needs a person (requeue after fixing)
    CONFLICT = "conflict"  # a human edit won; not sent
    UNKNOWN = "unknown"  # sent, answer lost: the relay must look before resending
    SUPERSEDED = "superseded"  # a later decision replaced it


SENDABLE = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.UNKNOWN)
REQUEUEABLE = (OutboxStatus.DEAD, OutboxStatus.FAILED, OutboxStatus.CONFLICT, OutboxStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    key: str
    decision_id: int | None
    person_id: str
    crm: Crm
    op: str
    object_type: str | None
    record_id: str | None
    payload: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    crm_ids: tuple[str, ...]
    last_error: str | None
    last_http_status: int | None


@dataclass(frozen=True, slots=True)
class Attempt:
    key: str
    at: datetime
    outcome: str
    http_status: int | None
    crm_ids: tuple[str, ...]
    error: str | None


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        key=row.key,
        decision_id=row.decision_id,
        person_id=row.person_id,
        crm=Crm(row.crm),
        op=row.op,
        object_type=row.object_type,
        record_id=row.record_id,
        payload=row.payload,
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        sent_at=row.sent_at,
        crm_ids=tuple(json.loads(row.crm_ids)),
        last_error=row.last_error,
        last_http_status=row.last_http_status,
    )


def pending(session: Session, crm: Crm, limit: int = 100, now: datetime | None = None) -> list[OutboxItem]:
    """Rows the relay should send now (pending, failed or unknown, and due), oldest first."""
    out = t.OUTBOX.c
    when = now or now_utc()
    stmt = (
        select(t.OUTBOX)
        .where(
            out.crm == crm.value,
            out.status.in_([s.value for s in SENDABLE]),
            or_(out.next_attempt_at.is_(None), out.next_attempt_at <= when),
        )
        .order_by(out.created_at, out.key)
        .limit(limit)
    )
    return [_item(r) for r in session.connection().execute(stmt)]


def get_items(session: Session, keys: Iterable[str]) -> dict[str, OutboxItem]:
    found: dict[str, OutboxItem] = {}
    for part in chunks(list(dict.fromkeys(keys))):
        for row in session.connection().execute(select(t.OUTBOX).where(t.OUTBOX.c.key.in_(part))):
            found[row.key] = _item(row)
    return found


def record_attempt(
    session: Session,
    key: str,
    outcome: str,
    *,
    http_status: int | None = None,
    crm_ids: Sequence[str] = (),
    error: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one attempt to the key's history (the mark_* functions call this for you)."""
    session.connection().execute(
        t.ATTEMPTS.insert().values(
            key=key,
            at=at or now_utc(),
            outcome=outcome,
            http_status=http_status,
            crm_ids=dumps(list(crm_ids)),
            error=scrub(error) if error else None,
        )
    )


def _move(
    session: Session,
    key: str,
    status: OutboxStatus,
    *,
    at: datetime | None,
    http_status: int | None,
    error: str | None,
    crm_ids: Sequence[str] = (),
    next_attempt_at: datetime | None = None,
    attempted: bool = True,
) -> None:
    when = at or now_utc()
    values: dict[str, Any] = {
        "status": status.value,
        "updated_at": when,
        "last_http_status": http_status,
        "last_error": scrub(error) if error else None,
        "next_attempt_at": next_attempt_at,
    }
    if status is OutboxStatus.UNKNOWN:
        values["attempts"] = t.OUTBOX.c.attempts + 1  # the send starts: that is the attempt
    elif attempted:  # an outcome settles the attempt already counted when it went 'unknown'
        values["attempts"] = t.OUTBOX.c.attempts + case(
            (t.OUTBOX.c.status == OutboxStatus.UNKNOWN.value, 0), else_=1
        )
    if status is OutboxStatus.SENT:
        values["sent_at"] = when
        values["crm_ids"] = dumps(list(crm_ids))
    result = session.connection().execute(update(t.OUTBOX).where(t.OUTBOX.c.key == key).values(values))
    if result.rowcount != 1:
        raise KeyError(f"outbox: no row with key {key!r}")
    if attempted:
        record_attempt(
            session, key, status.value, http_status=http_status, crm_ids=crm_ids, error=error, at=when
        )


def mark_sent(
    session: Session,
    key: str,
    crm_ids: Sequence[str] = (),
    http_status: int | None = None,
    at: datetime | None = None,
) -> None:
    """The CRM holds the effect (written now, or found already there by its key)."""
    _move(session, key, OutboxStatus.SENT, at=at, http_status=http_status, error=None, crm_ids=crm_ids)


def mark_failed(
    session: Session,
    key: str,
    error: str,
    *,
    retryable: bool,
    next_attempt_at: datetime | None = None,
    http_status: int | None = None,
    at: datetime | None = None,
) -> None:
    """Retryable -> 'failed' (due again at next_attempt_at); permanent -> 'dead' (dead letter)."""
    status = OutboxStatus.FAILED if retryable else OutboxStatus.DEAD
    _move(
        session,
        key,
        status,
        at=at,
        http_status=http_status,
        error=error,
        next_attempt_at=next_attempt_at if retryable else None,
    )


def mark_status(
    session: Session,
    key: str,
    status: OutboxStatus,
    *,
    error: str | None = None,
    http_status: int | None = None,
    at: datetime | None = None,
) -> None:
    """Conflict / unknown / superseded with the reason; every status but superseded is an attempt."""
    _move(
        session,
        key,
        status,
        at=at,
        http_status=http_status,
        error=error,
        attempted=status is not OutboxStatus.SUPERSEDED,
    )


def dead_letters(session: Session, crm: Crm | None = None) -> list[OutboxItem]:
    out = t.OUTBOX.c
    stmt = select(t.OUTBOX).where(out.status == OutboxStatus.DEAD.value)
    if crm is not None:
        stmt = stmt.where(out.crm == crm.value)
    return [_item(r) for r in session.connection().execute(stmt.order_by(out.updated_at, out.key))]


def requeue(session: Session, keys: Iterable[str] | None = None) -> int:
    """Send again: dead/failed/conflict/unknown rows (all of them when `keys` is None) -> pending, due now."""
    out = t.OUTBOX.c
    base = (
        update(t.OUTBOX)
        .where(out.status.in_([s.value for s in REQUEUEABLE]))
        .values(status=OutboxStatus.PENDING.value, next_attempt_at=None, updated_at=now_utc())
    )
    if keys is None:
        return session.connection().execute(base).rowcount
    count = 0
    for part in chunks(list(dict.fromkeys(keys))):
        count += session.connection().execute(base.where(out.key.in_(part))).rowcount
    return count


def attempts_for(session: Session, key: str) -> list[Attempt]:
    att = t.ATTEMPTS.c
    rows = session.connection().execute(select(t.ATTEMPTS).where(att.key == key).order_by(att.at, att.id))
    return [
        Attempt(r.key, r.at, r.outcome, r.http_status, tuple(json.loads(r.crm_ids)), r.error) for r in rows
    ]


def outbox_counts(session: Session) -> dict[str, int]:
    out = t.OUTBOX.c
    rows = session.connection().execute(select(out.status, func.count()).group_by(out.status))
    return {status: int(n) for status, n in rows}
