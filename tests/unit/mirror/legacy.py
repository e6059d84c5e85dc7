"""Mirrors in an older schema's layout, holding data today's code wrote: for migration tests.

Today's writer cannot write an old layout (migration 7 added `records.version_at`), so a mirror
at the latest version is filled and its rows are copied back: the current versions return to
`record_versions` (before migration 7 every version had its row there) and `records` loses the
columns the old schema lacks.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, select

from connector.mirror import Mirror, open_mirror
from connector.mirror import migrations as m
from connector.mirror.records import history

DATA_TABLES = ("records", "record_versions", "identities", "people", "record_links", "cursors", "runs")
_COPY_ORDER = ("runs", "people", "records", "record_versions", "identities", "record_links", "cursors")
HISTORY_SQL = str(select(history()).compile(dialect=create_engine("sqlite://").dialect))
"""Every version (`records.history`) as plain SQL, for raw sqlite3 connections."""


def path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def history_rows(url: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path(url)) as raw:
        return sorted(raw.execute(HISTORY_SQL).fetchall())


def legacy_mirror(
    source: str, url: str, version: int, monkeypatch: pytest.MonkeyPatch, *, stale_runs: bool = False
) -> Mirror:
    """A mirror at migration `version` (< 7) with the rows of the mirror at `source` (the latest).

    `stale_runs`: records whose current version was pulled without a run keep an earlier run in
    `last_run_id`, as the writer before migration 7 left them (it did not bind a missing run)."""
    assert version < 7
    with monkeypatch.context() as patch:
        patch.setattr(m, "MIGRATIONS", m.MIGRATIONS[:version])
        mirror = open_mirror(url)
    raw = sqlite3.connect(path(url))
    try:
        raw.execute("ATTACH ? AS src", (path(source),))
        for name in _COPY_ORDER:
            columns = ", ".join(row[1] for row in raw.execute(f"PRAGMA main.table_info({name})"))
            raw.execute(f"INSERT INTO main.{name} ({columns}) SELECT {columns} FROM src.{name}")
        raw.execute(
            "INSERT INTO main.record_versions SELECT crm, object_type, record_id, version_no, content_hash,"
            " properties, archived, modified_at, last_run_id, version_at FROM src.records"
        )
        if stale_runs:
            raw.execute(
                "UPDATE main.records SET last_run_id = (SELECT min(id) FROM main.runs)"
                " WHERE last_run_id IS NULL"
            )
        raw.commit()
    finally:
        raw.close()
    return mirror
