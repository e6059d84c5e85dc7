"""Stream cursors. `set_cursor` joins the caller's transaction, so a cursor never outruns its rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.sqlutil import now_utc, upsert_rows

_COLUMNS = ("stream", "value", "last_id", "updated_at", "run_id")


@dataclass(frozen=True, slots=True)
class Cursor:
    stream: str
    value: str
    last_id: str | None
    updated_at: datetime


def get_cursor(session: Session, stream: str) -> Cursor | None:
    row = session.connection().execute(select(t.CURSORS).where(t.CURSORS.c.stream == stream)).first()
    if row is None:
        return None
    return Cursor(row.stream, row.value, row.last_id, row.updated_at)


def set_cursor(
    session: Session, stream: str, value: str, last_id: str | None = None, run_id: int | None = None
) -> None:
    """Store the stream's position; backfills pass no cursor so the live one never moves."""
    row = (stream, value, last_id, now_utc(), run_id)
    upsert_rows(session, t.CURSORS, _COLUMNS, [row], _COLUMNS[1:])


def all_cursors(session: Session) -> list[Cursor]:
    rows = session.connection().execute(select(t.CURSORS).order_by(t.CURSORS.c.stream))
    return [Cursor(r.stream, r.value, r.last_id, r.updated_at) for r in rows]
