"""Engine creation and the unit-of-work boundary.

SQLite gets WAL + synchronous=NORMAL, foreign keys, a busy timeout, in-memory statement journals,
and explicit BEGIN handling. synchronous=NORMAL under WAL: a commit is always atomic and a killed
process loses nothing it committed; only an OS crash or power cut can drop the last commits before
the next WAL sync (at checkpoint), and then whole transactions — a page and its cursor together —
so the pull re-reads them. Commits do not fsync, which a transaction per API page needs.
Explicit BEGIN: pysqlite's legacy mode does not wrap DDL in a transaction and starts write
transactions lazily, which would make migrations non-atomic and let two writers deadlock on lock
upgrade. Every write unit of work therefore starts with BEGIN IMMEDIATE.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

BUSY_TIMEOUT_MS = 30_000
_SQLITE_PRAGMAS = (
    # 8 KiB pages for a new database (an existing one keeps its own; this must precede WAL mode):
    # a pulled record's row is ~1 KB, and each WAL frame costs two write calls. A full pull
    # replayed into an empty mirror: pwrite calls 143,400 -> 71,900, preads 39,500 -> 18,400,
    # the file 118 -> 106 MB; process time lower in 4 of 5 alternating pairs.
    "PRAGMA page_size=8192",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA wal_autocheckpoint=10000",  # checkpoint (and fsync) every ~40 MB of WAL, not every 4 MB
    # Statement journals (statements that fire a trigger, insert from a SELECT...) in memory: in
    # temp files they cost a full pull 4x the write syscalls and twice its system CPU time.
    "PRAGMA temp_store=MEMORY",
    # 32 MiB page cache (default 2 MiB; filled only as pages are read): a 2,000-record page dirties
    # more than 2 MiB, and a full cache spills to the WAL mid-transaction and re-reads evicted index
    # pages (a pread each). 8 -> 32 MiB: a full pull's preads 65,900 -> 39,500 (person-id index
    # leaves stay cached between link batches, `linkqueue`).
    "PRAGMA cache_size=-32768",
)
_IMMEDIATE = "mirror_immediate"


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
    cursor = dbapi_conn.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take the write lock up front (BEGIN IMMEDIATE on SQLite)."""
    return engine.execution_options(**{_IMMEDIATE: True})


def create_mirror_engine(url: str) -> Engine:
    """An engine for `url`; SQLite connections get the pragmas and explicit BEGIN."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


@dataclass(frozen=True)
class Mirror:
    """A handle on one mirror database; sessions come from here, state lives only in the database."""

    engine: Engine

    @cached_property
    def _writer(self) -> Engine:
        return writer(self.engine)  # built once: a pull opens a transaction per page

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write unit of work: commits on normal exit, rolls everything back on an exception."""
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads; it takes no write lock (WAL readers never block the writer)."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_mirror(url: str, *, migrate: bool = True) -> Mirror:
    """Open (and by default create or upgrade) the mirror at `url`, e.g. ``sqlite:///revops.db``."""
    from connector.mirror.migrations import migrate as apply_migrations  # noqa: PLC0415 - cycle

    engine = create_mirror_engine(url)
    if migrate:
        apply_migrations(engine)
    return Mirror(engine)
