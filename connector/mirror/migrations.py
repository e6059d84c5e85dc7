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


_LOG = "INSERT INTO evaluation_changes (person_id, crm, object_type, record_id) VALUES"
_OPEN_TASK = "({r}.op = 'task_create' AND {r}.status NOT IN ('dead', 'superseded'))"  # people._open_tasks
_SENT_STAGE = "({r}.op = 'stage_update' AND {r}.status = 'sent')"  # push.echo._written
_READ = "(" + _OPEN_TASK + " OR " + _SENT_STAGE + ")"
_OLD_READ, _NEW_READ, _NEW_SENT = _READ.format(r="OLD"), _READ.format(r="NEW"), _SENT_STAGE.format(r="NEW")
# What a cycle evaluates a person from, each change logged by a trigger. Frozen with migration 4:
# reading something new needs a new migration. Record keys become people when a cycle selects
# whom to evaluate (connector/mirror/evaluations.py); NULL keys are ignored there.
_CHANGE_TRIGGERS: dict[str, str] = {
    # a record's content (properties, associations, archived): every change writes a version
    "version": f"""AFTER INSERT ON record_versions BEGIN
        {_LOG} (NULL, NEW.crm, NEW.object_type, NEW.record_id); END""",
    # tombstones and merges change what a record is without a new version
    "record": f"""AFTER UPDATE OF deleted, merged_into ON records
        WHEN OLD.deleted IS NOT NEW.deleted OR OLD.merged_into IS NOT NEW.merged_into BEGIN
        {_LOG} (NULL, NEW.crm, NEW.object_type, NEW.record_id); END""",
    # deals are found through links in both directions: both ends of a link added or dropped
    "link_add": f"""AFTER INSERT ON record_links BEGIN
        {_LOG} (NULL, NEW.crm, NEW.object_type, NEW.record_id);
        {_LOG} (NULL, NEW.crm, NEW.to_type, NEW.to_id); END""",
    "link_drop": f"""AFTER DELETE ON record_links BEGIN
        {_LOG} (NULL, OLD.crm, OLD.object_type, OLD.record_id);
        {_LOG} (NULL, OLD.crm, OLD.to_type, OLD.to_id); END""",
    # who owns which record: a new record, a merge, a lead conversion, an email change
    "identity_add": f"""AFTER INSERT ON identities BEGIN
        {_LOG} (NEW.person_id, NEW.crm, NEW.object_type, NEW.record_id); END""",
    "identity_move": f"""AFTER UPDATE ON identities
        WHEN OLD.person_id IS NOT NEW.person_id OR OLD.email IS NOT NEW.email BEGIN
        {_LOG} (OLD.person_id, NULL, NULL, NULL);
        {_LOG} (NEW.person_id, NEW.crm, NEW.object_type, NEW.record_id); END""",
    "identity_drop": f"""AFTER DELETE ON identities BEGIN
        {_LOG} (OLD.person_id, OLD.crm, OLD.object_type, OLD.record_id); END""",
    "person": f"""AFTER UPDATE OF merged_into, email ON people
        WHEN OLD.merged_into IS NOT NEW.merged_into OR OLD.email IS NOT NEW.email BEGIN
        {_LOG} (NEW.person_id, NULL, NULL, NULL);
        {_LOG} (NEW.merged_into, NULL, NULL, NULL); END""",
    # the canonical stage and its history
    "stage_add": f"AFTER INSERT ON person_stages BEGIN {_LOG} (NEW.person_id, NULL, NULL, NULL); END",
    "stage_move": f"""AFTER UPDATE ON person_stages BEGIN
        {_LOG} (OLD.person_id, NULL, NULL, NULL); {_LOG} (NEW.person_id, NULL, NULL, NULL); END""",
    "stage_drop": f"AFTER DELETE ON person_stages BEGIN {_LOG} (OLD.person_id, NULL, NULL, NULL); END",
    "history_add": f"AFTER INSERT ON stage_history BEGIN {_LOG} (NEW.person_id, NULL, NULL, NULL); END",
    "history_move": f"""AFTER UPDATE ON stage_history BEGIN
        {_LOG} (OLD.person_id, NULL, NULL, NULL); {_LOG} (NEW.person_id, NULL, NULL, NULL); END""",
    "history_drop": f"AFTER DELETE ON stage_history BEGIN {_LOG} (OLD.person_id, NULL, NULL, NULL); END",
    # open tasks (a task is not decided twice) and sent stage writes (echo suppression); other
    # outbox moves (pending -> unknown -> sent for a task...) change nothing an evaluation reads
    "outbox_add": f"""AFTER INSERT ON outbox WHEN {_NEW_READ} BEGIN
        {_LOG} (NEW.person_id, NEW.crm, NEW.object_type, NEW.record_id); END""",
    "outbox_move": f"""AFTER UPDATE ON outbox
        WHEN {_OLD_READ} IS NOT {_NEW_READ}
        OR ({_NEW_READ} AND (OLD.person_id IS NOT NEW.person_id OR OLD.key IS NOT NEW.key))
        OR ({_NEW_SENT} AND (OLD.sent_at IS NOT NEW.sent_at OR OLD.payload IS NOT NEW.payload
            OR OLD.crm IS NOT NEW.crm OR OLD.object_type IS NOT NEW.object_type
            OR OLD.record_id IS NOT NEW.record_id))
        BEGIN
        {_LOG} (OLD.person_id, OLD.crm, OLD.object_type, OLD.record_id);
        {_LOG} (NEW.person_id, NEW.crm, NEW.object_type, NEW.record_id); END""",
    "outbox_drop": f"""AFTER DELETE ON outbox WHEN {_OLD_READ} BEGIN
        {_LOG} (OLD.person_id, OLD.crm, OLD.object_type, OLD.record_id); END""",
}


def _evaluations(conn: Connection) -> None:
    """Who was evaluated when, and a log of what changed since (so a cycle evaluates only them).

    The log is written by triggers in the same transaction as the change, whoever makes it (a
    cycle, `revops-sync pull`, a backfill, a requeue), so it survives a crash before evaluation.
    SQLite only: elsewhere the tables exist, no change is logged, and every cycle evaluates all.
    """
    SQLModel.metadata.create_all(conn, tables=[t.EVALUATIONS, t.EVALUATION_CHANGES], checkfirst=False)
    if conn.dialect.name != "sqlite":
        return
    for name, body in _CHANGE_TRIGGERS.items():
        conn.exec_driver_sql(f"CREATE TRIGGER evaluation_change_{name} {body}")


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "initial schema", _initial_schema),
    (2, "lookup indexes", _record_lookup_indexes),
    (3, "covering index for links by target", _links_by_target_covering),
    (4, "evaluations and the change log that selects whom to evaluate", _evaluations),
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
