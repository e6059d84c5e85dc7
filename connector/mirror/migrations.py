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
from sqlalchemy.schema import CreateIndex
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


def _table(name: str, *parts: str, suffix: str = "") -> str:
    """CREATE TABLE text as SQLAlchemy renders it for SQLite (what sqlite_master keeps)."""
    return f"CREATE TABLE {name} (\n\t" + ", \n\t".join(parts) + "\n)" + suffix


# Migration 1 as it created SQLite mirrors (frozen when migration 5 changed tables.py): fresh and
# existing mirrors go through the same steps and converge.
_PEOPLE_1 = (
    "person_id VARCHAR NOT NULL",
    "email VARCHAR",
    "merged_into VARCHAR",
    "created_at DATETIME NOT NULL",
    "PRIMARY KEY (person_id)",
    "UNIQUE (email)",
)
_INITIAL_SQLITE = (
    _table("people", *_PEOPLE_1),
    "CREATE INDEX ix_people_merged_into ON people (merged_into)",
    _table(
        "record_links",
        "crm VARCHAR NOT NULL",
        "object_type VARCHAR NOT NULL",
        "record_id VARCHAR NOT NULL",
        "to_type VARCHAR NOT NULL",
        "to_id VARCHAR NOT NULL",
        "PRIMARY KEY (crm, object_type, record_id, to_type, to_id)",
    ),
    "CREATE INDEX ix_record_links_to ON record_links (crm, to_type, to_id)",
    _table(
        "runs",
        "id INTEGER NOT NULL",
        "kind VARCHAR NOT NULL",
        "started_at DATETIME NOT NULL",
        "finished_at DATETIME",
        "status VARCHAR NOT NULL",
        "stats TEXT NOT NULL",
        "error TEXT",
        "PRIMARY KEY (id)",
    ),
    "CREATE INDEX ix_runs_kind ON runs (kind)",
    _table(
        "cursors",
        "stream VARCHAR NOT NULL",
        "value VARCHAR NOT NULL",
        "last_id VARCHAR",
        "updated_at DATETIME NOT NULL",
        "run_id INTEGER",
        "PRIMARY KEY (stream)",
        "FOREIGN KEY(run_id) REFERENCES runs (id)",
    ),
    _table(
        "decisions",
        "id INTEGER NOT NULL",
        '"key" VARCHAR',
        "run_id INTEGER",
        "person_id VARCHAR NOT NULL",
        "kind VARCHAR NOT NULL",
        "rule_id VARCHAR NOT NULL",
        "mapping_version VARCHAR NOT NULL",
        "inputs TEXT NOT NULL",
        "payload TEXT NOT NULL",
        "decided_at DATETIME NOT NULL",
        "PRIMARY KEY (id)",
        'UNIQUE ("key")',
        "FOREIGN KEY(run_id) REFERENCES runs (id)",
    ),
    "CREATE INDEX ix_decisions_person_id ON decisions (person_id)",
    "CREATE INDEX ix_decisions_run_id ON decisions (run_id)",
    _table(
        "identities",
        "crm VARCHAR NOT NULL",
        "object_type VARCHAR NOT NULL",
        "record_id VARCHAR NOT NULL",
        "person_id VARCHAR NOT NULL",
        "email VARCHAR",
        "linked_by VARCHAR NOT NULL",
        "PRIMARY KEY (crm, object_type, record_id)",
        "FOREIGN KEY(person_id) REFERENCES people (person_id)",
    ),
    "CREATE INDEX ix_identities_person_id ON identities (person_id)",
    _table(
        "records",
        "crm VARCHAR NOT NULL",
        "object_type VARCHAR NOT NULL",
        "record_id VARCHAR NOT NULL",
        "properties TEXT NOT NULL",
        "associations TEXT NOT NULL",
        "content_hash VARCHAR NOT NULL",
        "modified_at DATETIME NOT NULL",
        "archived BOOLEAN NOT NULL",
        "deleted BOOLEAN NOT NULL",
        "merged_into VARCHAR",
        "flags TEXT NOT NULL",
        "first_seen DATETIME NOT NULL",
        "last_seen DATETIME NOT NULL",
        "version_no INTEGER NOT NULL",
        "last_run_id INTEGER",
        "PRIMARY KEY (crm, object_type, record_id)",
        "FOREIGN KEY(last_run_id) REFERENCES runs (id)",
    ),
    _table(
        "outbox",
        '"key" VARCHAR NOT NULL',
        "decision_id INTEGER",
        "person_id VARCHAR NOT NULL",
        "crm VARCHAR NOT NULL",
        "op VARCHAR NOT NULL",
        "object_type VARCHAR",
        "record_id VARCHAR",
        "payload TEXT NOT NULL",
        "status VARCHAR NOT NULL",
        "attempts INTEGER NOT NULL",
        "next_attempt_at DATETIME",
        "created_at DATETIME NOT NULL",
        "updated_at DATETIME NOT NULL",
        "sent_at DATETIME",
        "crm_ids TEXT NOT NULL",
        "last_http_status INTEGER",
        "last_error TEXT",
        'PRIMARY KEY ("key")',
        "FOREIGN KEY(decision_id) REFERENCES decisions (id)",
    ),
    "CREATE INDEX ix_outbox_decision_id ON outbox (decision_id)",
    "CREATE INDEX ix_outbox_due ON outbox (crm, status, next_attempt_at)",
    "CREATE INDEX ix_outbox_person_id ON outbox (person_id)",
    _table(
        "person_stages",
        "person_id VARCHAR NOT NULL",
        "stage VARCHAR NOT NULL",
        "since DATETIME NOT NULL",
        "rule_id VARCHAR",
        "decision_id INTEGER",
        "PRIMARY KEY (person_id)",
        "FOREIGN KEY(decision_id) REFERENCES decisions (id)",
    ),
    _table(
        "record_versions",
        "crm VARCHAR NOT NULL",
        "object_type VARCHAR NOT NULL",
        "record_id VARCHAR NOT NULL",
        "version_no INTEGER NOT NULL",
        "content_hash VARCHAR NOT NULL",
        "properties TEXT NOT NULL",
        "archived BOOLEAN NOT NULL",
        "modified_at DATETIME NOT NULL",
        "run_id INTEGER",
        "pulled_at DATETIME NOT NULL",
        "PRIMARY KEY (crm, object_type, record_id, version_no)",
        "FOREIGN KEY(crm, object_type, record_id) REFERENCES records (crm, object_type, record_id)",
        "FOREIGN KEY(run_id) REFERENCES runs (id)",
    ),
    _table(
        "stage_history",
        "id INTEGER NOT NULL",
        "person_id VARCHAR NOT NULL",
        "stage VARCHAR NOT NULL",
        "entered_at DATETIME NOT NULL",
        "rule_id VARCHAR",
        "decision_id INTEGER",
        "PRIMARY KEY (id)",
        "FOREIGN KEY(decision_id) REFERENCES decisions (id)",
    ),
    "CREATE INDEX ix_stage_history_entered_at ON stage_history (entered_at)",
    "CREATE INDEX ix_stage_history_person ON stage_history (person_id, entered_at)",
    "CREATE INDEX ix_stage_history_stage ON stage_history (stage)",
    _table(
        "write_attempts",
        "id INTEGER NOT NULL",
        '"key" VARCHAR NOT NULL',
        "at DATETIME NOT NULL",
        "outcome VARCHAR NOT NULL",
        "http_status INTEGER",
        "crm_ids TEXT NOT NULL",
        "error TEXT",
        "PRIMARY KEY (id)",
        'FOREIGN KEY("key") REFERENCES outbox ("key")',
    ),
    'CREATE INDEX ix_write_attempts_key ON write_attempts ("key")',
)


def _initial_schema(conn: Connection) -> None:
    """SQLite: the frozen DDL above. Elsewhere tables.py's latest shape (no such mirror exists yet
    to converge with; later migrations tolerate it: IF EXISTS, SQLite-only rebuilds)."""
    if conn.dialect.name == "sqlite":
        for ddl in _INITIAL_SQLITE:
            conn.exec_driver_sql(ddl)
        return
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


# Migration 5's tables, as tables.py generates them for SQLite now (frozen like migration 1).
_REBUILT_SQLITE: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # name: (CREATE TABLE, its indexes, its migration-4 triggers: all dropped with the old table)
    "records": (
        _table(
            "records",
            "crm VARCHAR NOT NULL",
            "object_type VARCHAR NOT NULL",
            "record_id VARCHAR NOT NULL",
            "properties TEXT NOT NULL",
            "associations TEXT NOT NULL",
            "content_hash VARCHAR NOT NULL",
            "modified_at DATETIME NOT NULL",
            "archived BOOLEAN NOT NULL",
            "deleted BOOLEAN NOT NULL",
            "merged_into VARCHAR",
            "flags TEXT NOT NULL",
            "first_seen DATETIME NOT NULL",
            "last_seen DATETIME NOT NULL",
            "version_no INTEGER NOT NULL",
            "last_run_id INTEGER",
            "PRIMARY KEY (crm, object_type, record_id)",
            "FOREIGN KEY(last_run_id) REFERENCES runs (id) DEFERRABLE INITIALLY DEFERRED",
        ),
        (),  # ix_records_modified (migration 2) is dropped: only the unused `latest_modified` read it
        ("record",),
    ),
    "record_versions": (
        _table(
            "record_versions",
            "crm VARCHAR NOT NULL",
            "object_type VARCHAR NOT NULL",
            "record_id VARCHAR NOT NULL",
            "version_no INTEGER NOT NULL",
            "content_hash VARCHAR NOT NULL",
            "properties TEXT NOT NULL",
            "archived BOOLEAN NOT NULL",
            "modified_at DATETIME NOT NULL",
            "run_id INTEGER",
            "pulled_at DATETIME NOT NULL",
            "PRIMARY KEY (crm, object_type, record_id, version_no)",
            (
                "FOREIGN KEY(crm, object_type, record_id) REFERENCES records (crm, object_type, record_id)"
                " DEFERRABLE INITIALLY DEFERRED"
            ),
            "FOREIGN KEY(run_id) REFERENCES runs (id) DEFERRABLE INITIALLY DEFERRED",
        ),
        (),  # ix_record_versions_pulled (migration 2) is dropped: nothing reads versions by pull time
        ("version",),
    ),
    "identities": (
        _table(
            "identities",
            "crm VARCHAR NOT NULL",
            "object_type VARCHAR NOT NULL",
            "record_id VARCHAR NOT NULL",
            "person_id VARCHAR NOT NULL",
            "email VARCHAR",
            "linked_by VARCHAR NOT NULL",
            "PRIMARY KEY (crm, object_type, record_id)",
            "FOREIGN KEY(person_id) REFERENCES people (person_id) DEFERRABLE INITIALLY DEFERRED",
            suffix="\n WITHOUT ROWID",
        ),
        ("CREATE INDEX ix_identities_person_id ON identities (person_id)",),
        ("identity_add", "identity_move", "identity_drop"),
    ),
}


def _rebuild(conn: Connection, name: str, create: str) -> None:
    """SQLite: table `name` recreated as `create` says, every row copied (its indexes and triggers
    go with the old table: the caller creates them again; `migrate` runs it with foreign keys off)."""
    columns = ", ".join(row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({name})"))
    conn.exec_driver_sql(create.replace(f"CREATE TABLE {name} (", f"CREATE TABLE _new_{name} (", 1))
    conn.exec_driver_sql(f"INSERT INTO _new_{name} ({columns}) SELECT {columns} FROM {name}")  # noqa: S608 - our names
    conn.exec_driver_sql(f"DROP TABLE {name}")
    conn.exec_driver_sql(f"ALTER TABLE _new_{name} RENAME TO {name}")


def _hot_path_tables(conn: Connection) -> None:
    """Fewer b-trees and no statement journals on the pull's per-record writes.

    `ix_record_links_to` is a prefix of migration 3's `ix_record_links_to_from`, which serves the
    same lookups; `ix_record_versions_pulled` had no reader, `ix_records_modified` only
    `latest_modified`, which no code calls (it now scans the object type's rows). SQLite only: `records`,
    `record_versions` and `identities` are rebuilt (create, copy, drop, rename, then their indexes
    and triggers again; `migrate` runs this with foreign keys off and checks them before commit)
    so that their foreign keys are checked at commit and `identities` lives in its primary key's
    b-tree. With immediate keys, every single-row insert that fires a change-log trigger opened a
    statement journal (`sqlutil.or_fail` is the other half).
    """
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_record_links_to")
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_record_versions_pulled")
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_records_modified")
    if conn.dialect.name != "sqlite":
        return
    for name, (create, indexes, triggers) in _REBUILT_SQLITE.items():
        _rebuild(conn, name, create)
        for ddl in indexes:
            conn.exec_driver_sql(ddl)
        for trigger in triggers:
            conn.exec_driver_sql(f"CREATE TRIGGER evaluation_change_{trigger} {_CHANGE_TRIGGERS[trigger]}")


def _people_merged_partial(conn: Connection) -> None:
    """`ix_people_merged_into` only over merged people. Nearly every person's `merged_into` is NULL,
    and the full index made every person a pull creates one more b-tree insert (3,700 user-space
    instructions per pulled record in the full-pull replay); its readers (`merge_people`,
    `load_people`, the timeline, `integrity_check`) all ask for a set value, which the partial
    index answers (tested with EXPLAIN QUERY PLAN)."""
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_people_merged_into")
    (index,) = t.PEOPLE.indexes
    conn.execute(CreateIndex(index))


# Migration 7: a record's content change is logged from `records` (its current version is no
# longer inserted into record_versions): a new record or a new content hash in records.
_CONTENT_TRIGGERS: dict[str, str] = {
    "record_add": f"""AFTER INSERT ON records BEGIN
        {_LOG} (NULL, NEW.crm, NEW.object_type, NEW.record_id); END""",
    "record_content": f"""AFTER UPDATE OF content_hash ON records
        WHEN OLD.content_hash IS NOT NEW.content_hash BEGIN
        {_LOG} (NULL, NEW.crm, NEW.object_type, NEW.record_id); END""",
}
CHANGE_TRIGGERS: dict[str, str] = {
    **{name: body for name, body in _CHANGE_TRIGGERS.items() if name != "version"},
    **_CONTENT_TRIGGERS,
}
"""The change-log triggers a migrated SQLite mirror has (migration 4's, as migration 7 left them)."""

# Migration 7's `records`, as tables.py generates it for SQLite now (frozen like migration 5's).
_RECORDS_7 = _table(
    "records",
    "crm VARCHAR NOT NULL",
    "object_type VARCHAR NOT NULL",
    "record_id VARCHAR NOT NULL",
    "properties TEXT NOT NULL",
    "associations TEXT NOT NULL",
    "content_hash VARCHAR NOT NULL",
    "modified_at DATETIME NOT NULL",
    "archived BOOLEAN NOT NULL",
    "deleted BOOLEAN NOT NULL",
    "merged_into VARCHAR",
    "flags TEXT NOT NULL",
    "first_seen DATETIME NOT NULL",
    "last_seen DATETIME NOT NULL",
    "version_no INTEGER NOT NULL",
    "last_run_id INTEGER",
    "version_at DATETIME NOT NULL",
    "PRIMARY KEY (crm, object_type, record_id)",
    "FOREIGN KEY(last_run_id) REFERENCES runs (id) DEFERRABLE INITIALLY DEFERRED",
)
_KEPT_RECORD_COLUMNS = (
    "crm",
    "object_type",
    "record_id",
    "properties",
    "associations",
    "content_hash",
    "modified_at",
    "archived",
    "deleted",
    "merged_into",
    "flags",
    "first_seen",
    "last_seen",
    "version_no",
)
_CURRENT_VERSION = (
    "v.crm = r.crm AND v.object_type = r.object_type AND v.record_id = r.record_id"
    " AND v.version_no = r.version_no"
)


def _current_version_in_records(conn: Connection) -> None:
    """The current version lives only in `records`: `version_at` (its row's `pulled_at`) is added,
    `last_run_id` becomes its row's `run_id` (a pull without a run left it stale before), and the
    version rows that are current are deleted. Every version stays readable (`records.history`).

    Each pulled record's ~1 KB row was written twice, and a new or changed record now costs one
    row instead of two. SQLite rebuilds `records` (like migration 5: foreign keys off, checked
    before commit) and moves the content trigger from record_versions to records."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS evaluation_change_version")
        conn.exec_driver_sql(_RECORDS_7.replace("CREATE TABLE records (", "CREATE TABLE _new_records (", 1))
        kept = ", ".join(_KEPT_RECORD_COLUMNS)
        conn.exec_driver_sql(
            f"INSERT INTO _new_records ({kept}, last_run_id, version_at)"  # noqa: S608 - our names
            f" SELECT {', '.join(f'r.{name}' for name in _KEPT_RECORD_COLUMNS)},"
            " CASE WHEN v.version_no IS NULL THEN r.last_run_id ELSE v.run_id END,"
            " COALESCE(v.pulled_at, r.first_seen)"
            f" FROM records r LEFT JOIN record_versions v ON {_CURRENT_VERSION}"
        )
    else:
        version_at = t.RECORDS.c.version_at.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE records ADD COLUMN version_at {version_at}")
        conn.exec_driver_sql(
            "UPDATE records r SET version_at = v.pulled_at, last_run_id = v.run_id FROM record_versions v"  # noqa: S608
            f" WHERE {_CURRENT_VERSION}"
        )
        conn.exec_driver_sql("UPDATE records SET version_at = first_seen WHERE version_at IS NULL")
        conn.exec_driver_sql("ALTER TABLE records ALTER COLUMN version_at SET NOT NULL")
    conn.exec_driver_sql(
        f"DELETE FROM record_versions AS v WHERE EXISTS (SELECT 1 FROM records r WHERE {_CURRENT_VERSION})"  # noqa: S608 - our names
    )
    if dialect != "sqlite":
        return
    conn.exec_driver_sql("DROP TABLE records")
    conn.exec_driver_sql("ALTER TABLE _new_records RENAME TO records")
    for name in ("record", *_CONTENT_TRIGGERS):
        conn.exec_driver_sql(f"CREATE TRIGGER evaluation_change_{name} {CHANGE_TRIGGERS[name]}")


def _identity_queue(conn: Connection) -> None:
    """Pulled pages' person records wait here to be linked in batches (`linkqueue`)."""
    SQLModel.metadata.create_all(conn, tables=[t.LINK_QUEUE], checkfirst=False)


# Migration 9's `people`: migration 1's without the UNIQUE line, as tables.py generates it now.
_PEOPLE_9 = _table("people", *(part for part in _PEOPLE_1 if part != "UNIQUE (email)"))


def _people_email_not_unique(conn: Connection) -> None:
    """`people.email` loses its UNIQUE constraint, which only repeated the primary key: a person
    with an email has the email's hash as its id (one email, one id) and a person without one has
    a NULL email. The constraint's index was one more random b-tree insert per person a pull
    creates: 198.3k -> 193.9k user-space instructions per record in the full-pull replay.
    SQLite rebuilds `people` (foreign keys off, checked before commit, like migration 5)."""
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql("ALTER TABLE people DROP CONSTRAINT IF EXISTS people_email_key")
        return
    _rebuild(conn, "people", _PEOPLE_9)
    (index,) = t.PEOPLE.indexes
    conn.execute(CreateIndex(index))
    conn.exec_driver_sql(f"CREATE TRIGGER evaluation_change_person {_CHANGE_TRIGGERS['person']}")


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "initial schema", _initial_schema),
    (2, "lookup indexes", _record_lookup_indexes),
    (3, "covering index for links by target", _links_by_target_covering),
    (4, "evaluations and the change log that selects whom to evaluate", _evaluations),
    (5, "deferred foreign keys and fewer b-trees on the pull's hot tables", _hot_path_tables),
    (6, "people.merged_into indexed only where set", _people_merged_partial),
    (7, "the current version only in records", _current_version_in_records),
    (8, "identity links queued per page, linked in batches", _identity_queue),
    (9, "people.email not unique (the id already is)", _people_email_not_unique),
)
# Migrations that rebuild SQLite tables: run with foreign keys off (a DROP TABLE of a parent would
# check, or cascade to, its children) and checked with foreign_key_check before they commit.
_FOREIGN_KEYS_OFF = frozenset({5, 7, 9})


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
        with writer(engine).connect() as conn:
            keys_off = number in _FOREIGN_KEYS_OFF and conn.dialect.name == "sqlite"
            if keys_off:  # outside a transaction: the pragma is a no-op inside one
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                with conn.begin():
                    # re-check under the write lock: a concurrent process may have applied it meanwhile
                    if conn.scalar(select(t.MIGRATIONS.c.version).where(t.MIGRATIONS.c.version == number)):
                        continue
                    apply(conn)
                    if keys_off:  # the rebuild ran unchecked: check every key before committing
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise RuntimeError(f"migration {number} would break foreign keys: {broken[:5]}")
                    conn.execute(
                        t.MIGRATIONS.insert().values(version=number, name=name, applied_at=now_utc())
                    )
            finally:
                if keys_off:
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
        applied.append(number)
    return applied
