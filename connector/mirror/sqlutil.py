"""Dialect-aware bulk statements: native ON CONFLICT on SQLite/PostgreSQL, a portable fallback elsewhere.

All hot paths go through these helpers so they stay Core executemany (no per-row ORM objects).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, and_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

T = TypeVar("T")
CHUNK = 400  # keeps IN lists well under every backend's bound-parameter limit


def now_utc() -> datetime:
    return datetime.now(UTC)


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, compact) so equal values store and hash identically."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _native_insert(session: Session, table: Table) -> Any:
    name = session.get_bind().dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    return None


def insert_ignore(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, silently skipping those whose primary/unique key already exists."""
    if not rows:
        return
    native = _native_insert(session, table)
    if native is not None:
        session.connection().execute(native.on_conflict_do_nothing(), list(rows))
        return
    keys = [c.name for c in table.primary_key.columns]
    existing = existing_keys(session, table, keys, [tuple(r[k] for k in keys) for r in rows])
    fresh = [r for r in rows if tuple(r[k] for k in keys) not in existing]
    if fresh:
        session.connection().execute(table.insert(), fresh)


def upsert(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], update_columns: Iterable[str]
) -> None:
    """Insert rows or, on a primary-key clash, overwrite `update_columns` with the new values."""
    if not rows:
        return
    columns = list(update_columns)
    native = _native_insert(session, table)
    keys = [c.name for c in table.primary_key.columns]
    if native is not None:
        stmt = native.on_conflict_do_update(
            index_elements=keys, set_={c: getattr(native.excluded, c) for c in columns}
        )
        session.connection().execute(stmt, list(rows))
        return
    existing = existing_keys(session, table, keys, [tuple(r[k] for k in keys) for r in rows])
    fresh = [r for r in rows if tuple(r[k] for k in keys) not in existing]
    stale = [r for r in rows if tuple(r[k] for k in keys) in existing]
    if fresh:
        session.connection().execute(table.insert(), fresh)
    for row in stale:
        where = and_(*(table.c[k] == row[k] for k in keys))
        session.connection().execute(table.update().where(where).values({c: row[c] for c in columns}))


def existing_keys(
    session: Session, table: Table, key_columns: Sequence[str], keys: Sequence[tuple[Any, ...]]
) -> set[tuple[Any, ...]]:
    """Which of `keys` (tuples over `key_columns`) are already present, in chunked queries."""
    cols = [table.c[k] for k in key_columns]
    found: set[tuple[Any, ...]] = set()
    for part in chunks(list(dict.fromkeys(keys))):
        stmt = select(*cols).where(tuple_(*cols).in_(list(part)))
        found.update(tuple(row) for row in session.connection().execute(stmt))
    return found
