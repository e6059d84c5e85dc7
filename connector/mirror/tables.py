"""The mirror's tables as SQLModel classes (the schema's latest shape; migrations.py creates it).

Portable by construction: JSON is TEXT holding canonical JSON, datetimes go through `UTCDateTime`
(stored naive-UTC, read back timezone-aware), composite natural keys instead of rowid tricks.
Repositories use the `Table` objects (`Record.__table__` via `table()`) with Core statements.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlmodel import AutoString, Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, naive UTC in the column (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the mirror; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        return None if value is None else value.replace(tzinfo=UTC)


def _when(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _text(*, nullable: bool = False, default: str | None = None) -> Any:
    return Field(sa_column=Column(Text, nullable=nullable, default=default))


# Foreign keys of the tables a pull writes a row per record into are checked at COMMIT, not per
# statement (same guarantee: a violation fails the commit and the transaction rolls back). On SQLite
# an immediate key makes every single-row insert that fires a change-log trigger open a statement
# journal (a copy of each page it touches, ~18,000 instructions a row); see migration 5.
def _deferred(target: str) -> ForeignKey:
    return ForeignKey(target, deferrable=True, initially="DEFERRED")


def _run_ref() -> Any:
    return Field(default=None, sa_column=Column(Integer, _deferred("runs.id"), nullable=True))


class SchemaMigration(SQLModel, table=True):
    __tablename__ = "schema_migrations"
    version: int = Field(primary_key=True)
    name: str
    applied_at: datetime = _when()


class Run(SQLModel, table=True):
    __tablename__ = "runs"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    started_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)
    status: str = Field(default="running")
    stats: str = _text(default="{}")
    error: str | None = _text(nullable=True)


class Record(SQLModel, table=True):
    """The current version of a record; `record_versions` holds only the ones it superseded
    (migration 7). `version_no`, `last_run_id` and `version_at` are that version's number, the run
    that pulled it and when it was first pulled (a version row's `run_id` and `pulled_at`)."""

    __tablename__ = "records"
    crm: str = Field(primary_key=True)
    object_type: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    properties: str = _text()
    associations: str = _text(default="{}")
    content_hash: str
    modified_at: datetime = _when()
    archived: bool = False
    deleted: bool = False
    merged_into: str | None = None
    flags: str = _text(default="[]")
    first_seen: datetime = _when()
    last_seen: datetime = _when()
    version_no: int = 1
    last_run_id: int | None = _run_ref()
    version_at: datetime = _when()


class RecordVersion(SQLModel, table=True):
    """A superseded version of a record (the current one lives in `records` only, migration 7):
    read every version through `records.history`."""

    __tablename__ = "record_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["crm", "object_type", "record_id"],
            ["records.crm", "records.object_type", "records.record_id"],
            deferrable=True,
            initially="DEFERRED",
        ),
    )
    crm: str = Field(primary_key=True)
    object_type: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    version_no: int = Field(primary_key=True)
    content_hash: str
    properties: str = _text()
    archived: bool = False
    modified_at: datetime = _when()
    run_id: int | None = _run_ref()
    pulled_at: datetime = _when()


class RecordLink(SQLModel, table=True):
    """An association as declared by the `from` record (so a re-pull replaces exactly its own links).

    Found by target through migration 3's `ix_record_links_to_from` (crm, to_type, to_id, ...)."""

    __tablename__ = "record_links"
    crm: str = Field(primary_key=True)
    object_type: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    to_type: str = Field(primary_key=True)
    to_id: str = Field(primary_key=True)


_MERGED = "merged_into IS NOT NULL"


class PersonRow(SQLModel, table=True):
    """`merged_into` is indexed only where set (migration 6): almost every person is unmerged, and a
    full index of NULLs was one more b-tree insert per person a pull creates. `email` is not
    unique (migration 9): the id is the email's hash, so the constraint only added an index."""

    __tablename__ = "people"
    __table_args__ = (
        Index(
            "ix_people_merged_into", "merged_into", sqlite_where=text(_MERGED), postgresql_where=text(_MERGED)
        ),
    )
    person_id: str = Field(primary_key=True)
    email: str | None = None
    merged_into: str | None = None
    created_at: datetime = _when()


class Identity(SQLModel, table=True):
    """Small rows keyed by text: on SQLite stored in their primary key's b-tree (WITHOUT ROWID)."""

    __tablename__ = "identities"
    __table_args__ = {"sqlite_with_rowid": False}
    crm: str = Field(primary_key=True)
    object_type: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    person_id: str = Field(
        sa_column=Column(AutoString, _deferred("people.person_id"), nullable=False, index=True)
    )
    email: str | None = None
    linked_by: str


class CursorRow(SQLModel, table=True):
    __tablename__ = "cursors"
    stream: str = Field(primary_key=True)
    value: str
    last_id: str | None = None
    updated_at: datetime = _when()
    run_id: int | None = Field(default=None, foreign_key="runs.id")


class DecisionRow(SQLModel, table=True):
    __tablename__ = "decisions"
    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, unique=True)
    run_id: int | None = Field(default=None, foreign_key="runs.id", index=True)
    person_id: str = Field(index=True)
    kind: str
    rule_id: str
    mapping_version: str
    inputs: str = _text()
    payload: str = _text()
    decided_at: datetime = _when()


class PersonStage(SQLModel, table=True):
    __tablename__ = "person_stages"
    person_id: str = Field(primary_key=True)
    stage: str
    since: datetime = _when()
    rule_id: str | None = None
    decision_id: int | None = Field(default=None, foreign_key="decisions.id")


class StageHistory(SQLModel, table=True):
    __tablename__ = "stage_history"
    __table_args__ = (Index("ix_stage_history_person", "person_id", "entered_at"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: str
    stage: str = Field(index=True)
    entered_at: datetime = _when(index=True)
    rule_id: str | None = None
    decision_id: int | None = Field(default=None, foreign_key="decisions.id")


class OutboxEntry(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "crm", "status", "next_attempt_at"),)
    key: str = Field(primary_key=True)
    decision_id: int | None = Field(default=None, foreign_key="decisions.id", index=True)
    person_id: str = Field(index=True)
    crm: str
    op: str
    object_type: str | None = None
    record_id: str | None = None
    payload: str = _text()
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)
    crm_ids: str = _text(default="[]")
    last_http_status: int | None = None
    last_error: str | None = _text(nullable=True)


class WriteAttempt(SQLModel, table=True):
    __tablename__ = "write_attempts"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String, ForeignKey("outbox.key"), nullable=False, index=True))
    at: datetime = _when()
    outcome: str
    http_status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    crm_ids: str = _text(default="[]")
    error: str | None = _text(nullable=True)


class EvaluationRow(SQLModel, table=True):
    """A person's last evaluation by a sync cycle: enough to tell whether the next one may skip them."""

    __tablename__ = "evaluations"
    person_id: str = Field(primary_key=True)
    evaluated_run_id: int | None = None
    mapping_version: str
    evaluated_at: datetime = _when()  # the cycle's `now`
    next_check_at: datetime | None = _when(nullable=True)  # a timer or time condition flips then


class EvaluationChange(SQLModel, table=True):
    """A change to something people are evaluated from, logged by triggers (migration 4) in the
    writing transaction; a cycle consumes the rows up to the `seq` it selected from."""

    __tablename__ = "evaluation_changes"
    seq: int | None = Field(default=None, primary_key=True)
    person_id: str | None = None
    crm: str | None = None
    object_type: str | None = None
    record_id: str | None = None


class LinkQueueRow(SQLModel, table=True):
    """One pulled page's person records and merge edges, waiting to be linked to people
    (migration 8; see `linkqueue`). JSON: `persons` [[crm, object_type, record_id, email], ...],
    `edges` [[loser crm, type, id, survivor crm, type, id, kind], ...]."""

    __tablename__ = "identity_queue"
    seq: int | None = Field(default=None, primary_key=True)
    persons: str
    edges: str
    queued_at: datetime = _when()


def table(model: type[SQLModel]) -> Table:
    """The Core `Table` behind a SQLModel class (typed, for Core statements)."""
    result = model.__table__  # type: ignore[attr-defined]
    assert isinstance(result, Table)
    return result


RECORDS = table(Record)
VERSIONS = table(RecordVersion)
LINKS = table(RecordLink)
PEOPLE = table(PersonRow)
IDENTITIES = table(Identity)
CURSORS = table(CursorRow)
RUNS = table(Run)
DECISIONS = table(DecisionRow)
PERSON_STAGES = table(PersonStage)
STAGE_HISTORY = table(StageHistory)
OUTBOX = table(OutboxEntry)
ATTEMPTS = table(WriteAttempt)
MIGRATIONS = table(SchemaMigration)
EVALUATIONS = table(EvaluationRow)
EVALUATION_CHANGES = table(EvaluationChange)
LINK_QUEUE = table(LinkQueueRow)
