"""Dialect-aware bulk statements: native ON CONFLICT on SQLite/PostgreSQL, a portable fallback elsewhere.

All hot paths go through these helpers so they stay Core executemany (no per-row ORM objects).
The per-page hot paths (`Prepared`, `insert_ignore_rows`, `upsert_rows`) go one step further:
each statement is compiled once per dialect and rows travel to the DBAPI as plain tuples, with
only the columns whose type needs it (UTC datetimes, booleans) converted, memoised per batch.
SQLAlchemy's per-row parameter processing was most of the pull's CPU time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from sqlalchemy import BindParameter, Boolean, DateTime, Table, and_, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.expression import ClauseElement

T = TypeVar("T")
CHUNK = 400  # keeps IN lists well under every backend's bound-parameter limit


def now_utc() -> datetime:
    return datetime.now(UTC)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
_ESCAPED = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
# The C encoder `_CANONICAL.encode` builds on every call, built once: same output, ~1 µs less per
# record. No circular-reference markers: CRM JSON cannot be cyclic.
_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)  # CPython's _json (not in typeshed)
_C_CANONICAL: Any = (
    _MAKE_ENCODER(None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    if _MAKE_ENCODER is not None
    else None
)


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, compact) so equal values store and hash identically.

    Text that is not valid Unicode (a lone surrogate: bad UTF-8 upstream, sent as JSON "\\udc80")
    cannot be stored as UTF-8; such a value is kept \\u-escaped instead, losslessly, so one bad
    record never fails its page (and, its cursor stuck, every later cycle).
    """
    out = "".join(_C_CANONICAL(value, 0)) if _C_CANONICAL is not None else _CANONICAL.encode(value)
    return _storable(out, value)


def _storable(out: str, value: Any) -> str:
    """`out` (the canonical JSON of `value`), or its \\u-escaped spelling when it holds a surrogate."""
    if out.isascii():  # O(1) for str: ASCII text cannot hold a surrogate
        return out
    try:
        out.encode()
    except UnicodeEncodeError:
        return _ESCAPED.encode(value)
    return out


_SORTED = orjson.OPT_SORT_KEYS


def dumps_flat(value: dict[str, Any]) -> str:
    """`dumps` of a dict of strings and Nones (a CRM record's properties): the same text ~4x faster.

    orjson spells strings as `dumps` does (compact, UTF-8, the same escapes: tested on every BMP
    character) and sorts keys by UTF-8 bytes, which is code point order. It refuses what `dumps`
    must handle itself (lone surrogates, non-string keys, integers beyond 64 bits): those go
    through `dumps`. Floats are spelled differently (`1e16` for `1e+16`): SourceRecord properties
    are strings, so only a caller breaking that contract would see another spelling.
    """
    try:
        return orjson.dumps(value, option=_SORTED).decode()
    except orjson.JSONEncodeError:
        return dumps(value)


def update_by_key(table: Table) -> Update:
    """`UPDATE table` of one record's row: `crm`, `object_type`, `record_id` bound as the parameters
    `k_crm`, `k_type`, `k_id` (listed last in a prepared statement's names)."""
    c = table.c
    return update(table).where(
        c.crm == bindparam("k_crm"), c.object_type == bindparam("k_type"), c.record_id == bindparam("k_id")
    )


InsertT = TypeVar("InsertT", bound=Insert)


def or_fail(stmt: InsertT) -> InsertT:
    """`INSERT OR FAIL` on SQLite: no statement journal for an insert that fires a trigger.

    With the default ABORT, SQLite journals every page a statement touches so it can undo that
    statement alone (~18,000 instructions per single-row insert into a table with a change-log
    trigger). FAIL keeps what the statement already did before the error; every caller raises and
    rolls its transaction back, so the outcome is the same. Needs deferred foreign keys too
    (migration 5): an immediate one makes SQLite journal regardless.
    """
    return stmt.prefix_with("OR FAIL", dialect="sqlite")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _native_insert(session: Session, table: Table) -> Any:
    return _native_for(session.get_bind().dialect.name, table)


def _native_for(dialect_name: str, table: Table) -> Any:
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return None


Row = Sequence[Any]
Processor = Callable[[Any], Any]

# Aware-UTC samples a fast datetime processor must render exactly like the dialect's own.
_SAMPLES = (
    datetime(2026, 3, 1, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2025, 10, 10, 20, 20, 0, 123, tzinfo=UTC),
)


def _utc_text(value: datetime) -> str:
    """SQLite's DATETIME text for an aware UTC datetime: 'YYYY-MM-DD HH:MM:SS.ffffff' (no offset)."""
    return value.isoformat(" ", "microseconds")[:26]


def _bind_processor(type_: Any, dialect: Dialect) -> Processor | None:
    """The column type's bind processor, with shortcuts where the generic chain is the cost:
    aware-UTC datetimes (TypeDecorator, astimezone, %-formatting: ~1.5 µs a value) and booleans,
    each used only if it renders the dialect's own samples exactly as the generic one does."""
    generic: Processor | None = type_.dialect_impl(dialect).bind_processor(dialect)
    if generic is None:
        return None
    impl = getattr(type_, "impl_instance", type_)
    if isinstance(impl, DateTime) and all(generic(sample) == _utc_text(sample) for sample in _SAMPLES):
        return _datetime_shortcut(generic)
    if isinstance(impl, Boolean) and (generic(True), generic(False)) == (1, 0):
        return _boolean_shortcut(generic)
    return generic


def _datetime_shortcut(slow: Processor) -> Processor:
    def process(value: Any) -> Any:
        if value.__class__ is datetime and value.tzinfo is UTC:
            return value.isoformat(" ", "microseconds")[:26]  # _utc_text, inlined
        return slow(value)  # naive (rejected there), other zones, None

    return process


def _boolean_shortcut(slow: Processor) -> Processor:
    def process(value: Any) -> Any:
        return 1 if value is True else 0 if value is False else slow(value)

    return process


def as_is(value: Any) -> Any:
    """The processor of a column whose values need no conversion."""
    return value


def _raw_cursor(session: Session) -> Any:
    """The DBAPI cursor of the session's connection, inside its transaction (BEGIN already sent)."""
    return session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled once for one dialect; `run` sends tuples (in `names` order) via executemany.

    On SQLite the rows go straight to the sqlite3 cursor: SQLAlchemy's per-execution bookkeeping
    (context, events, result wrapping) is ~50 µs a statement, a dozen statements a page.
    """

    sql: str
    names: tuple[str, ...]
    positional: bool  # qmark/format paramstyle: tuples; named/pyformat: dicts
    order: tuple[int, ...] | None  # positional dialects: the compiled order, None when it is `names`
    convert: tuple[tuple[int, Processor], ...]  # (index in names, bind processor) for typed columns
    raw: bool = False  # execute on the DBAPI cursor (SQLite) instead of Connection.exec_driver_sql

    @staticmethod
    def compile(stmt: ClauseElement, dialect: Dialect, names: Sequence[str]) -> Prepared:
        compiled = stmt.compile(dialect=dialect, column_keys=list(names))
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {stmt!r}")
        bound = list(compiled.positiontup or ()) if dialect.positional else list(compiled.binds)
        if sorted(bound) != sorted(names):
            raise ValueError(f"statement binds {bound}, rows carry {list(names)}: {compiled.string}")
        convert = []
        for index, name in enumerate(names):
            processor = _bind_processor(compiled.binds[name].type, dialect)
            if processor is not None:
                convert.append((index, processor))
        order = tuple(names.index(name) for name in bound) if dialect.positional else None
        identity = order == tuple(range(len(names)))
        return Prepared(
            compiled.string,
            tuple(names),
            dialect.positional,
            None if identity else order,
            tuple(convert),
            raw=dialect.name == "sqlite",
        )

    def processor(self, name: str) -> Processor:
        """The conversion column `name` needs (identity when none), for callers that build
        driver-ready rows themselves and `run(..., ready=True)`."""
        index = self.names.index(name)
        return next((p for i, p in self.convert if i == index), as_is)

    def parameters(self, rows: Sequence[Row], *, ready: bool = False) -> list[Any]:
        """Driver-ready parameters: typed columns converted (each distinct value once, unless the
        rows are `ready`), in the dialect's order.

        Column-wise (transpose, convert, transpose back) so the per-row work stays in C.
        """
        convert = () if ready else self.convert
        if not convert and self.positional and self.order is None:
            return rows if isinstance(rows, list) else list(rows)
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for index, processor in convert:
            values = columns[index]
            converted = {value: processor(value) for value in set(values)}
            columns[index] = [converted[value] for value in values]
        if not self.positional:
            return [dict(zip(self.names, row, strict=True)) for row in zip(*columns, strict=True)]
        if self.order is not None:
            columns = [columns[i] for i in self.order]
        return list(zip(*columns, strict=True))

    def run(self, session: Session, rows: Sequence[Row], *, ready: bool = False) -> int:
        """executemany over `rows`; returns the rows SQLite reports changed (-1 on other drivers,
        whose executemany rowcount is not reliably a sum)."""
        if not rows:
            return 0
        params = self.parameters(rows, ready=ready)
        if self.raw:
            cursor = _raw_cursor(session)
            try:
                cursor.executemany(self.sql, params)
                return int(cursor.rowcount)
            finally:
                cursor.close()
        session.connection().exec_driver_sql(self.sql, params)
        return -1

    def fetch(self, session: Session, row: Row) -> list[tuple[Any, ...]]:
        """Execute once with `row`; the result rows as tuples (none for a DELETE/UPDATE)."""
        (params,) = self.parameters([row])
        if self.raw:
            cursor = _raw_cursor(session)
            try:
                return cursor.execute(self.sql, params).fetchall()  # type: ignore[no-any-return]
            finally:
                cursor.close()
        result = session.connection().exec_driver_sql(self.sql, params)
        return [tuple(r) for r in result] if result.returns_rows else []


StatementBuilder = Callable[[], tuple[ClauseElement, tuple[str, ...]]]


def prepare(session: Session, build: StatementBuilder) -> Prepared:
    """The statement `build()` returns (with its bind names), compiled once per dialect."""
    return _prepared(session.get_bind().dialect, build)


@lru_cache(maxsize=256)
def _prepared(dialect: Dialect, build: StatementBuilder) -> Prepared:
    stmt, names = build()
    return Prepared.compile(stmt, dialect, names)


InBuilder = Callable[[int], tuple[ClauseElement, tuple[str, ...]]]


def in_params(count: int) -> tuple[list[BindParameter[Any]], tuple[str, ...]]:
    """`count` bind parameters for an IN list (`k0`, `k1`...) and their names, for an `InBuilder`."""
    names = tuple(f"k{i}" for i in range(count))
    return [bindparam(name) for name in names], names


def run_in(
    session: Session, build: InBuilder, fixed: Sequence[Any], keys: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """Execute `build(len(keys))` with `fixed` then `keys` as parameters, compiled once per size.

    Core's expanding IN re-renders the SQL on every execution; pages repeat a handful of sizes.
    Returns the rows (none for a DELETE/UPDATE).
    """
    return _prepared_in(session.get_bind().dialect, build, len(keys)).fetch(session, (*fixed, *keys))


@lru_cache(maxsize=512)
def _prepared_in(dialect: Dialect, build: InBuilder, count: int) -> Prepared:
    stmt, names = build(count)
    return Prepared.compile(stmt, dialect, names)


@lru_cache(maxsize=256)
def _prepared_write(
    dialect: Dialect, table: Table, names: tuple[str, ...], update_columns: tuple[str, ...] | None
) -> Prepared | None:
    native = _native_for(dialect.name, table)
    if native is None:
        return None
    native = or_fail(native)  # rows go one statement each: OR FAIL is ABORT for them, sans journal
    keys = [c.name for c in table.primary_key.columns]
    if update_columns is None:
        stmt = native.on_conflict_do_nothing()
    else:
        set_ = {c: getattr(native.excluded, c) for c in update_columns}
        stmt = native.on_conflict_do_update(index_elements=keys, set_=set_)
    return Prepared.compile(stmt, dialect, names)


def insert_ignore_rows(session: Session, table: Table, names: Sequence[str], rows: Sequence[Row]) -> int:
    """`insert_ignore` for tuple rows over `names`: compiled once, sent straight to the driver.

    Returns how many rows were new, or -1 where the driver cannot tell."""
    prepared = _prepared_write(session.get_bind().dialect, table, tuple(names), None)
    if prepared is None:
        insert_ignore(session, table, [dict(zip(names, row, strict=True)) for row in rows])
        return -1
    return prepared.run(session, rows)


def upsert_rows(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[Row], update_columns: Iterable[str]
) -> None:
    """`upsert` for tuple rows over `names`: compiled once, sent straight to the driver."""
    columns = tuple(update_columns)
    prepared = _prepared_write(session.get_bind().dialect, table, tuple(names), columns)
    if prepared is None:
        upsert(session, table, [dict(zip(names, row, strict=True)) for row in rows], columns)
    else:
        prepared.run(session, rows)


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
