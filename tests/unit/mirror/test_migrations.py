"""Schema migrations on real SQLite files: an existing mirror and a fresh one end in the same schema,
the one tables.py declares, with its data, its foreign keys and its change-log triggers intact."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.expression import Executable
from sqlmodel import SQLModel

from connector.mirror import (
    Mirror,
    integrity_check,
    latest_modified,
    migrate,
    open_mirror,
    start_run,
    upsert_page,
)
from connector.mirror import migrations as m
from connector.mirror import tables as t
from connector.model import Crm, SourceRecord
from connector.push.echo import versions_of
from tests.unit.mirror.legacy import DATA_TABLES, history_rows, legacy_mirror, path

T0 = datetime(2026, 3, 1, tzinfo=UTC)


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


def _schema(url: str) -> dict[str, str]:
    with sqlite3.connect(path(url)) as raw:
        rows = raw.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {name: re.sub(r'^CREATE TABLE "(\w+)"', r"CREATE TABLE \1", sql) for name, sql in rows}


_KEPT = {
    "records": "crm, object_type, record_id, properties, associations, content_hash, modified_at,"
    " archived, deleted, merged_into, flags, first_seen, last_seen, version_no, last_run_id"
}
_REWRITTEN = ("records", "record_versions")  # migration 7: current versions move out of record_versions


def _rows(url: str, tables: tuple[str, ...] = DATA_TABLES) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path(url)) as raw:
        return {
            name: sorted(raw.execute(f"SELECT {_KEPT.get(name, '*')} FROM {name}").fetchall())
            for name in tables
        }


def _source(tmp_path: Path) -> str:
    """A mirror at the latest version where a contact, a deal and a lead have several versions,
    the deal's and the lead's latest pulled without a run."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    mirror = open_mirror(url)
    _fill(mirror)
    _fill(mirror, suffix="-new")  # contact 1 changes email
    deal, lead = _records()[3:]
    with mirror.transaction() as s:
        upsert_page(s, None, [replace(deal, properties={"amount": "6"}), replace(lead, archived=True)])
    mirror.close()
    return url


@pytest.fixture
def old_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Mirror, str]]:
    """A mirror as migration 4 left it, with data written by today's code."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    mirror = legacy_mirror(_source(tmp_path), url, 4, monkeypatch)
    yield mirror, url
    mirror.close()


def test_an_existing_mirror_keeps_its_rows_and_ends_in_the_fresh_schema(
    old_mirror: tuple[Mirror, str], db_url: str
) -> None:
    mirror, url = old_mirror
    before = _rows(url)
    assert "ix_record_links_to" in _schema(url)
    assert migrate(mirror.engine) == [5, 6, 7, 8, 9]
    after = _rows(url)
    assert {k: v for k, v in after.items() if k not in _REWRITTEN} == {
        k: v for k, v in before.items() if k not in _REWRITTEN
    }
    assert after["records"] == before["records"]  # last_run_id was not stale here
    assert history_rows(url) == before["record_versions"]  # every version, the same rows
    fresh = open_mirror(db_url)
    fresh.close()
    assert _schema(url) == _schema(db_url)
    with sqlite3.connect(path(url)) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        assert raw.execute("PRAGMA foreign_keys").fetchone() == (0,)  # a plain connection
    with mirror.engine.connect() as conn:  # the pooled connection got its foreign keys back
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_the_change_log_triggers_survive_the_rebuild(old_mirror: tuple[Mirror, str]) -> None:
    mirror, url = old_mirror
    migrate(mirror.engine)
    merged_sql = "SELECT person_id FROM people WHERE merged_into IS NOT NULL"
    with sqlite3.connect(path(url)) as raw:
        raw.execute("DELETE FROM evaluation_changes")
        triggers = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        merged_before = set(raw.execute(merged_sql))
    assert triggers == {f"evaluation_change_{name}" for name in m.CHANGE_TRIGGERS}
    _fill(mirror, suffix="-3")  # contact 1 changes email: a version, an identity move, a merge
    with sqlite3.connect(path(url)) as raw:
        logged = set(raw.execute("SELECT person_id, crm, object_type, record_id FROM evaluation_changes"))
        (person,) = raw.execute("SELECT person_id FROM identities WHERE record_id = '1'").fetchone()
        merged_now = set(raw.execute(merged_sql)) - merged_before
    assert (None, "hubspot", "contacts", "1") in logged  # version
    assert (person, "hubspot", "contacts", "1") in logged  # identity moved (email changed)
    assert merged_now  # the email change merged a person: people's trigger (migration 9) logged it
    assert {(loser, None, None, None) for (loser,) in merged_now} <= logged


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
    with sqlite3.connect(path(db_url)) as raw:
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
    with sqlite3.connect(path(db_url)) as raw:
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
    with mirror.transaction() as s:  # a record with an earlier version
        upsert_page(s, None, [SourceRecord(Crm.HUBSPOT, "deals", "d9", {}, T0)])
        upsert_page(s, None, [SourceRecord(Crm.HUBSPOT, "deals", "d9", {"amount": "1"}, T0)])
        assert s.execute(t.VERSIONS.select()).first() is not None
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


def test_migration_7_keeps_every_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The current versions leave record_versions for records; read through `history`, the mirror
    holds the same rows as before, including the run of versions pulled without one (the old
    writer left `last_run_id` stale for them)."""
    source = _source(tmp_path)
    url = f"sqlite:///{tmp_path / 'old.db'}"
    mirror = legacy_mirror(source, url, 6, monkeypatch, stale_runs=True)
    try:
        before = _rows(url)
        assert len(before["record_versions"]) > len(before["records"])  # several versions of some
        assert migrate(mirror.engine) == [7, 8, 9]
        after = _rows(url)
        assert history_rows(url) == before["record_versions"] == history_rows(source)
        assert after["record_versions"] == [
            v
            for v in before["record_versions"]
            if (v[:3], v[3]) not in {(r[:3], r[13]) for r in after["records"]}
        ]
        with mirror.reader() as s:
            assert integrity_check(s) == []
    finally:
        mirror.close()


@pytest.mark.parametrize("migrated", [False, True], ids=["fresh", "migrated"])
def test_the_change_log_sees_a_content_change_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated: bool
) -> None:
    """Migration 7's triggers on records: a new record and a content change logged once each, an
    unchanged re-pull not at all (its touch update sets neither content_hash nor a new row)."""
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    if migrated:
        mirror = legacy_mirror(_source(tmp_path), url, 6, monkeypatch)
        migrate(mirror.engine)
    else:
        mirror = open_mirror(url)
        _fill(mirror)
    loser = _records()[1]  # contact 3: no links, no merge edges
    new = SourceRecord(Crm.HUBSPOT, "contacts", "7", {"email": "n@x.io"}, T0)
    pulls: list[tuple[list[SourceRecord], list[tuple[str | None, str]]]] = [
        ([loser], []),
        ([replace(loser, properties={"email": "c@x.io", "firstname": "Cy"})], [(None, "3")]),
        ([new], [(None, "7"), ("identity", "7")]),
        ([new, replace(loser, properties={"email": "c@x.io", "firstname": "Cy"})], []),
    ]
    try:
        for records, expected in pulls:
            with sqlite3.connect(path(url)) as raw:
                raw.execute("DELETE FROM evaluation_changes")
            with mirror.transaction() as s:
                upsert_page(s, None, records)
            with sqlite3.connect(path(url)) as raw:
                logged = raw.execute("SELECT person_id, crm, object_type, record_id FROM evaluation_changes")
                found = [("identity" if p else None, rid) for p, crm, otype, rid in logged]
            assert sorted(found, key=str) == sorted(expected, key=str)
    finally:
        mirror.close()


def test_echo_reads_versions_by_primary_key(mirror: Mirror, db_url: str) -> None:
    """Every cycle reads the versions of the records it wrote: both branches of the history by key."""
    stmt = versions_of("hubspot", "contacts", ["1", "2"])
    sql = stmt.compile(dialect=mirror.engine.dialect, compile_kwargs={"literal_binds": True})
    with sqlite3.connect(path(db_url)) as raw:
        plan = [row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}")]
    by_key = "(crm=? AND object_type=? AND record_id=?)"
    assert [step for step in plan if step.startswith(("SEARCH", "SCAN"))] == [
        f"SEARCH record_versions USING INDEX sqlite_autoindex_record_versions_1 {by_key}",
        f"SEARCH records USING INDEX sqlite_autoindex_records_1 {by_key}",
    ], plan
