"""Run bookkeeping: every sync, backfill or plan leaves a row with its outcome and figures."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.scrub import scrub
from connector.mirror.sqlutil import dumps, now_utc


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    stats: Mapping[str, Any]
    error: str | None


def start_run(session: Session, kind: str) -> int:
    """Open a run (status 'running') and return its id."""
    result = session.connection().execute(
        t.RUNS.insert().values(kind=kind, started_at=now_utc(), status="running", stats="{}")
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def finish_run(
    session: Session,
    run_id: int,
    status: str,
    stats: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Close a run; `error` is scrubbed of anything that looks like a credential."""
    session.connection().execute(
        update(t.RUNS)
        .where(t.RUNS.c.id == run_id)
        .values(
            finished_at=now_utc(),
            status=status,
            stats=dumps(dict(stats or {})),
            error=scrub(error) if error else None,
        )
    )


def _info(row: Any) -> RunInfo:
    return RunInfo(
        row.id, row.kind, row.started_at, row.finished_at, row.status, json.loads(row.stats), row.error
    )


def get_run(session: Session, run_id: int) -> RunInfo | None:
    row = session.connection().execute(select(t.RUNS).where(t.RUNS.c.id == run_id)).first()
    return _info(row) if row else None


def recent_runs(session: Session, limit: int = 20) -> list[RunInfo]:
    rows = session.connection().execute(select(t.RUNS).order_by(t.RUNS.c.id.desc()).limit(limit))
    return [_info(r) for r in rows]
