"""Numbered schema migrations, each applied in its own transaction together with its bookkeeping row.

A fresh database runs them all in order; an existing one runs only the missing ones, so
`migrate` is idempotent. Rules for adding one: append `(next number, name, function)` to
`MIGRATIONS`; never edit an applied migration; write DDL against the connection (Alembic-style
`op`s or plain Core DDL). Migration 1 builds the initial schema from tables.py: when a later
migration changes a table, freeze 1 by replacing its body with the DDL it generated
(`CreateTable(t).compile(engine)`) so old databases and fresh ones keep converging.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, select
from sqlmodel import SQLModel

from connector.mirror import tables as t
from connector.mirror.db import writer
from connector.mirror.sqlutil import now_utc

Migration = Callable[[Connection], None]

_INITIAL_TABLES = (
    t.RUNS,
    t.RECORDS,
    t.VERSIONS,
    t.LINKS,
    t.PEOPLE,
    t.IDENTITIES,
    t.CURSORS,
    t.DECISIONS,
    t.PERSON_STAGES,
    t.STAGE_HISTORY,
    t.OUTBOX,
    t.ATTEMPTS,
)


def _initial_schema(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn, tables=list(_INITIAL_TABLES), checkfirst=False)


def _record_lookup_indexes(conn: Connection) -> None:
    """Indexes for `why` and the report: versions by time, decisions by kind, attempts by time."""
    for ddl in (
        "CREATE INDEX ix_record_versions_pulled ON record_versions (pulled_at)",
        "CREATE INDEX ix_decisions_kind_time ON decisions (kind, decided_at)",
        "CREATE INDEX ix_write_attempts_at ON write_attempts (at)",
        "CREATE INDEX ix_records_modified ON records (crm, object_type, modified_at)",
    ):
        conn.exec_driver_sql(ddl)


def _links_by_target_covering(conn: Connection) -> None:
    """`load_people` finds deals that declare a person by (crm, to_type, to_id). Without the source
    columns in that index SQLite preferred the primary key on `crm` alone: a scan of every link
    per batch, quadratic over a full load."""
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_record_links_to_from"
        " ON record_links (crm, to_type, to_id, object_type, record_id)"
    )


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "initial schema", _initial_schema),
    (2, "lookup indexes", _record_lookup_indexes),
    (3, "covering index for links by target", _links_by_target_covering),
)


def applied_versions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        t.MIGRATIONS.create(conn, checkfirst=True)
        conn.commit()
        return sorted(conn.scalars(select(t.MIGRATIONS.c.version)))


def migrate(engine: Engine) -> list[int]:
    """Apply every missing migration in order; returns the versions applied now."""
    numbers = [number for number, _, _ in MIGRATIONS]
    if numbers != sorted(set(numbers)):
        raise RuntimeError(f"migration numbers must be unique and increasing: {numbers}")
    done = set(applied_versions(engine))
    applied: list[int] = []
    for number, name, apply in MIGRATIONS:
        if number in done:
            continue
        with writer(engine).begin() as conn:
            # re-check under the write lock: a concurrent process may have applied it meanwhile
            if conn.scalar(select(t.MIGRATIONS.c.version).where(t.MIGRATIONS.c.version == number)):
                continue
            apply(conn)
            conn.execute(t.MIGRATIONS.insert().values(version=number, name=name, applied_at=now_utc()))
        applied.append(number)
    return applied
