"""Schema migrations on real SQLite files: an existing mirror and a fresh one end in the same schema,
the one tables.py declares, with its data, its foreign keys and its change-log triggers intact."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.expression import Executable
from sqlmodel import SQLModel

from connector.mirror import Mirror, latest_modified, migrate, open_mirror, start_run, upsert_page
from connector.mirror import migrations as m
from connector.mirror import tables as t
from connector.model import Crm, SourceRecord

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DATA_TABLES = ("records", "record_versions", "identities", "people", "record_links", "cursors", "runs")


def _records(suffix: str = "") -> list[SourceRecord]:
    contact = SourceRecord(Crm.HUBSPOT, "contacts", "1", {"email": f"a{suffix}@x.io"}, T0)
    merged = SourceRecord(Crm.HUBSPOT, "contacts", "2", {"email": "b@x.io", "hs_merged_object_ids": "3"}, T0)
    loser = SourceRecord(Crm.HUBSPOT, "contacts", "3", {"email": "c@x.io"}, T0)
    deal = SourceRecord(Crm.HUBSPOT, "deals", "d1", {"amount": "5"}, T0, associations={"contacts": ("1",)})
    lead = SourceRecord(Crm.SALESFORCE, "Lead", "L1", {"Email": None, "ConvertedContactId": "C1"}, T0)
    return [contact, loser, merged, deal, lead]


def _fill(mirror: Mirror, suffix: str = "") -> None:
    with mirror.transaction() as s:
        run_id = start_run(s, "pull")
    for record in _records(suffix):
        with mirror.transaction() as s:
            upsert_page(s, run_id, [record])


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _schema(url: str) -> dict[str, str]:
    with sqlite3.connect(_path(url)) as raw:
        rows = raw.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {name: re.sub(r'^CREATE TABLE "(\w+)"', r"CREATE TABLE \1", sql) for name, sql in rows}


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(_path(url)) as raw:
        return {name: sorted(raw.execute(f"SELECT * FROM {name}").fetchall()) for name in DATA_TABLES}


def _at_version_4(url: str, monkeypatch: pytest.MonkeyPatch) -> Mirror:
    """A mirror as migration 4 left it, with data written by today's code."""
    with monkeypatch.context() as patch:
        patch.setattr(m, "MIGRATIONS", m.MIGRATIONS[:4])
        mirror = open_mirror(url)
        _fill(mirror)
    return mirror


@pytest.fixture
def old_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Mirror, str]]:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    mirror = _at_version_4(url, monkeypatch)
    yield mirror, url
    mirror.close()


def test_an_existing_mirror_keeps_its_rows_and_ends_in_the_fresh_schema(
    old_mirror: tuple[Mirror, str], db_url: str
) -> None:
    mirror, url = old_mirror
    before = _rows(url)
    assert "ix_record_links_to" in _schema(url)
    assert migrate(mirror.engine) == [5, 6]
    assert _rows(url) == before
    fresh = open_mirror(db_url)
    fresh.close()
    assert _schema(url) == _schema(db_url)
    with sqlite3.connect(_path(url)) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        assert raw.execute("PRAGMA foreign_keys").fetchone() == (0,)  # a plain connection
    with mirror.engine.connect() as conn:  # the pooled connection got its foreign keys back
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_the_change_log_triggers_survive_the_rebuild(old_mirror: tuple[Mirror, str]) -> None:
    mirror, url = old_mirror
    migrate(mirror.engine)
    with sqlite3.connect(_path(url)) as raw:
        raw.execute("DELETE FROM evaluation_changes")
        triggers = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert triggers == {f"evaluation_change_{name}" for name in m._CHANGE_TRIGGERS}
    _fill(mirror, suffix="-new")  # contact 1 changes email: a version, an identity move, a merge
    with sqlite3.connect(_path(url)) as raw:
        logged = set(raw.execute("SELECT person_id, crm, object_type, record_id FROM evaluation_changes"))
        (person,) = raw.execute("SELECT person_id FROM identities WHERE record_id = '1'").fetchone()
    assert (None, "hubspot", "contacts", "1") in logged  # version
    assert (person, "hubspot", "contacts", "1") in logged  # identity moved (email changed)


def test_tables_py_declares_the_schema_migrations_build(mirror: Mirror, db_url: str) -> None:
    """The rule in migrations.py's docstring: tables.py is the latest shape, migrations get there."""
    schema = _schema(db_url)
    dialect = create_engine("sqlite://").dialect
    for table in SQLModel.metadata.sorted_tables:
        assert schema[table.name] == str(CreateTable(table).compile(dialect=dialect)).strip(), table.name
        for index in table.indexes:
            assert schema[str(index.name)] == str(CreateIndex(index).compile(dialect=dialect)), index.name
    assert "ix_record_links_to" not in schema
    assert "ix_record_versions_pulled" not in schema
    assert "ix_records_modified" not in schema


@pytest.mark.parametrize(
    "query",
    [
        "SELECT object_type, record_id FROM record_links WHERE crm = ? AND to_type = ? AND to_id IN (?, ?)",
        "SELECT to_type, to_id FROM record_links WHERE crm = ? AND to_type = ? AND to_id = ?",
    ],
)
def test_links_by_target_use_the_covering_index(mirror: Mirror, db_url: str, query: str) -> None:
    with sqlite3.connect(_path(db_url)) as raw:
        plan = " ".join(
            row[3]
            for row in raw.execute(
                f"EXPLAIN QUERY PLAN {query}", ("hubspot", "contacts", "1", "2")[: query.count("?")]
            )
        )
    assert "ix_record_links_to_from" in plan, plan


@pytest.mark.parametrize(
    "query",
    [
        "UPDATE people SET merged_into = ? WHERE person_id = ? OR merged_into = ?",  # merge_people
        "SELECT person_id, merged_into FROM people WHERE merged_into IN (?, ?)",  # load_people
        "SELECT person_id FROM people WHERE merged_into = ?",  # the timeline's aliases
    ],
)
def test_merged_people_are_found_through_the_partial_index(mirror: Mirror, db_url: str, query: str) -> None:
    """Migration 6 indexes only set `merged_into` values; every reader asks for a set value."""
    with sqlite3.connect(_path(db_url)) as raw:
        (ddl,) = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'ix_people_merged_into'").fetchone()
        plan = " ".join(
            row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {query}", ("a", "b", "c")[: query.count("?")])
        )
    assert ddl.endswith("WHERE merged_into IS NOT NULL"), ddl
    assert "USING INDEX ix_people_merged_into" in plan, plan


DANGLING = {
    "identity -> people": t.IDENTITIES.insert().values(
        crm="hubspot", object_type="contacts", record_id="9", person_id="nobody", linked_by="id"
    ),
    "record -> runs": t.RECORDS.update().values(last_run_id=999),
    "version -> records": t.VERSIONS.update().values(record_id="missing"),
}


def _commit_with(mirror: Mirror, statement: Executable) -> None:
    with mirror.transaction() as s:
        upsert_page(s, None, [SourceRecord(Crm.HUBSPOT, "deals", "d9", {}, T0)])
        s.execute(statement)


@pytest.mark.parametrize("statement", DANGLING.values(), ids=DANGLING.keys())
def test_foreign_keys_are_still_enforced_at_commit(mirror: Mirror, statement: Executable) -> None:
    """Deferred keys: a dangling reference fails the commit and nothing of the transaction stays."""
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        _commit_with(mirror, statement)
    with mirror.reader() as s:
        assert s.execute(t.RECORDS.select()).first() is None


def test_latest_modified_without_its_index(mirror: Mirror) -> None:
    later = SourceRecord(Crm.HUBSPOT, "contacts", "9", {"email": "z@x.io"}, T0 + timedelta(days=2))
    with mirror.transaction() as s:
        upsert_page(s, None, [*_records()[:3], later])
    with mirror.reader() as s:
        assert latest_modified(s, Crm.HUBSPOT, "contacts") == T0 + timedelta(days=2)
        assert latest_modified(s, Crm.SALESFORCE, "Lead") is None
