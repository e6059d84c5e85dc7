"""Mirror behaviour against a real SQLite file: versions, identities, cursors, audit, outbox, people."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import FromClause, func, select

from connector.mirror import (
    CursorUpdate,
    Mirror,
    OutboxRow,
    OutboxStatus,
    applied_versions,
    attempts_for,
    dead_letters,
    get_cursor,
    get_items,
    integrity_check,
    load_people,
    mark_failed,
    mark_sent,
    mark_status,
    migrate,
    open_mirror,
    pending,
    person_timeline,
    requeue,
    resolve_person,
    save_decisions,
    start_run,
    upsert_page,
)
from connector.mirror import tables as t
from connector.mirror.migrations import MIGRATIONS
from connector.mirror.records import history
from connector.model import Crm, Provenance, SourceRecord, Stage, StageTransition, TargetRef, TaskDecision

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def hs(rid: str, email: str | None, **props: str) -> SourceRecord:
    return SourceRecord(Crm.HUBSPOT, "contacts", rid, {"email": email, **props}, T0)


def sf(kind: str, rid: str, email: str | None, **props: str) -> SourceRecord:
    return SourceRecord(Crm.SALESFORCE, kind, rid, {"Email": email, **props}, T0)


def page(mirror: Mirror, *records: SourceRecord, cursor: CursorUpdate | None = None) -> tuple[int, int, int]:
    with mirror.transaction() as s:
        r = upsert_page(s, None, records, cursor)
    return r.inserted, r.changed, r.unchanged


def count(mirror: Mirror, table: FromClause) -> int:
    with mirror.reader() as s:
        return int(s.execute(select(func.count()).select_from(table)).scalar_one())


def person_of(mirror: Mirror, key: str) -> str | None:
    with mirror.reader() as s:
        return resolve_person(s, key)


def why(rule: str = "r1", at: datetime = T0) -> Provenance:
    return Provenance(rule, "v1", {"score": 80}, at)


def test_version_rows_only_on_content_change(mirror: Mirror) -> None:
    assert page(mirror, hs("1", "a@x.io", lifecyclestage="lead")) == (1, 0, 0)
    assert page(mirror, hs("1", "a@x.io", lifecyclestage="lead")) == (0, 0, 1)
    assert (count(mirror, history()), count(mirror, t.VERSIONS)) == (1, 0)
    assert page(mirror, hs("1", "a@x.io", lifecyclestage="mql")) == (0, 1, 0)
    archived = SourceRecord(
        Crm.HUBSPOT, "contacts", "1", {"email": "a@x.io", "lifecyclestage": "mql"}, T0, True
    )
    assert page(mirror, archived) == (0, 1, 0)
    assert (count(mirror, history()), count(mirror, t.VERSIONS)) == (3, 2)  # the current one in records
    with mirror.reader() as s:
        assert integrity_check(s) == []


BROKEN_HISTORY = {
    "current version also a row": "INSERT INTO record_versions SELECT crm, object_type, record_id,"
    " version_no, content_hash, properties, archived, modified_at, last_run_id, version_at FROM records",
    "a version missing": "DELETE FROM record_versions WHERE version_no = 1",
    "a version beyond the current": "UPDATE record_versions SET version_no = 7 WHERE version_no = 2",
}


@pytest.mark.parametrize("damage", BROKEN_HISTORY.values(), ids=BROKEN_HISTORY.keys())
def test_integrity_check_sees_a_broken_history(mirror: Mirror, db_url: str, damage: str) -> None:
    """record_versions must hold versions 1 .. version_no - 1 of each record, each once."""
    for lifecyclestage in ("lead", "mql", "sql"):
        page(mirror, hs("1", "a@x.io", lifecyclestage=lifecyclestage))
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        raw.execute(damage)
    with mirror.reader() as s:
        problems = integrity_check(s)
    assert len(problems) == 1, problems
    assert problems[0].startswith("records hubspot:contacts:1: version_no 3 but"), problems


@pytest.mark.parametrize(
    "with_runs", [(True, True), (False, False), (True, False)], ids=["runs", "no-run", "run-then-none"]
)
def test_a_changed_record_keeps_its_earlier_version(mirror: Mirror, with_runs: tuple[bool, bool]) -> None:
    """The version a change supersedes moves to record_versions as it was (properties, hash, run,
    pull time); the current one lives in records only and reads through `history` alike."""
    later = T0 + timedelta(hours=1)
    deal = SourceRecord(
        Crm.HUBSPOT, "deals", "d1", {"amount": "5", "x": None}, T0, associations={"contacts": ("1",)}
    )
    pages = [
        [hs("1", "a@x.io", lifecyclestage="lead", note="é \u2028"), deal],
        [
            SourceRecord(
                Crm.HUBSPOT, "contacts", "1", {"email": "a@x.io", "lifecyclestage": "mql"}, later, True
            )
        ],
    ]
    runs = []
    for records, with_run in zip(pages, with_runs, strict=True):
        with mirror.transaction() as s:
            run_id = start_run(s, "pull") if with_run else None
            upsert_page(s, run_id, records)
        runs.append(run_id)
    with mirror.reader() as s:
        versions = {(r.record_id, r.version_no): r for r in s.execute(select(history()))}
        current = {r.record_id: r for r in s.execute(select(t.RECORDS))}
        superseded = [(r.record_id, r.version_no) for r in s.execute(select(t.VERSIONS))]
        assert integrity_check(s) == []
    assert sorted(versions) == [("1", 1), ("1", 2), ("d1", 1)]
    assert superseded == [("1", 1)]
    first, second, contact = versions["1", 1], versions["1", 2], current["1"]
    assert json.loads(first.properties) == {"email": "a@x.io", "lifecyclestage": "lead", "note": "é \u2028"}
    assert (first.archived, first.modified_at, first.run_id) == (False, T0, runs[0])
    assert first.pulled_at == contact.first_seen
    assert first.content_hash != second.content_hash == contact.content_hash
    assert json.loads(second.properties) == {"email": "a@x.io", "lifecyclestage": "mql"}
    assert (second.archived, second.modified_at, second.run_id) == (True, later, runs[1])
    assert second.pulled_at == contact.version_at == contact.last_seen > first.pulled_at
    assert (versions["d1", 1].run_id, versions["d1", 1].pulled_at) == (runs[0], current["d1"].first_seen)


@pytest.mark.parametrize(
    ("hubspot_email", "sf_email", "linked"),
    [("Ann@X.io", " ann@x.IO ", True), ("ann@x.io", "bob@x.io", False), ("", "", False), (None, None, False)],
)
def test_identity_links_by_normalised_email(
    mirror: Mirror, hubspot_email: str | None, sf_email: str | None, linked: bool
) -> None:
    page(mirror, hs("1", hubspot_email), sf("Lead", "00Q1", sf_email))
    assert (person_of(mirror, "hubspot:contacts:1") == person_of(mirror, "salesforce:Lead:00Q1")) is linked
    if not hubspot_email:
        assert person_of(mirror, "hubspot:contacts:1") == "hubspot:contacts:1"
        with mirror.reader() as s:
            flags = s.execute(select(t.RECORDS.c.flags).where(t.RECORDS.c.record_id == "1")).scalar_one()
        assert "no_email" in flags


def test_person_ids_are_stable_across_runs_and_email_changes(mirror: Mirror, db_url: str) -> None:
    page(mirror, hs("1", "a@x.io"))
    first = person_of(mirror, "hubspot:contacts:1")
    page(mirror, hs("1", "new@x.io"))
    assert person_of(mirror, "hubspot:contacts:1") == first
    page(mirror, sf("Lead", "00Q9", "NEW@x.io"))  # the new email's records join the same person
    assert person_of(mirror, "salesforce:Lead:00Q9") == first
    again = open_mirror(db_url)
    with again.reader() as s:
        assert resolve_person(s, "a@x.io") == first
    again.close()


def test_hubspot_merge_folds_merged_ids_into_the_survivor(mirror: Mirror) -> None:
    page(mirror, hs("101", "old@x.io"), hs("102", "main@x.io"), sf("Contact", "003A", "old@x.io"))
    assert person_of(mirror, "hubspot:contacts:101") != person_of(mirror, "hubspot:contacts:102")
    page(mirror, hs("102", "main@x.io", hs_merged_object_ids="101;555"))
    survivor = person_of(mirror, "hubspot:contacts:102")
    for key in ("hubspot:contacts:101", "salesforce:Contact:003A", "hubspot:contacts:555", "old@x.io"):
        assert person_of(mirror, key) == survivor, key
    with mirror.reader() as s:
        merged = s.execute(select(t.RECORDS.c.merged_into).where(t.RECORDS.c.record_id == "101")).scalar_one()
        assert merged == "102"
        assert integrity_check(s) == []


@pytest.mark.parametrize("contact_first", [True, False])
def test_salesforce_conversion_joins_lead_and_contact(mirror: Mirror, contact_first: bool) -> None:
    lead = sf("Lead", "00Q1", "lead@x.io", IsConverted="true", ConvertedContactId="003C")
    contact = sf("Contact", "003C", "contact@x.io")
    for record in (contact, lead) if contact_first else (lead, contact):
        page(mirror, record)
    assert person_of(mirror, "salesforce:Lead:00Q1") == person_of(mirror, "salesforce:Contact:003C")
    with mirror.reader() as s:
        people = list(load_people(s))
        assert integrity_check(s) == []
    assert len(people) == 1
    assert {r.record_id for r in people[0].records} == {"00Q1", "003C"}


def test_cursor_commits_with_the_page_and_rolls_back_with_it(mirror: Mirror) -> None:
    page(mirror, hs("1", "a@x.io"), cursor=CursorUpdate("hubspot.contacts", "2026-03-01T00:00:00Z", "1"))

    def crash_mid_page() -> None:
        with mirror.transaction() as s:
            later = CursorUpdate("hubspot.contacts", "2026-03-02T00:00:00Z", "2")
            upsert_page(s, None, [hs("2", "b@x.io")], later)
            raise RuntimeError("crash mid-page")

    with pytest.raises(RuntimeError, match="mid-page"):
        crash_mid_page()
    with mirror.reader() as s:
        cursor = get_cursor(s, "hubspot.contacts")
        assert cursor is not None
        assert (cursor.value, cursor.last_id) == ("2026-03-01T00:00:00Z", "1")
    assert count(mirror, t.RECORDS) == 1
    assert count(mirror, t.IDENTITIES) == 1


def test_migrations_are_numbered_and_idempotent(mirror: Mirror) -> None:
    numbers = [n for n, _, _ in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))
    assert applied_versions(mirror.engine) == numbers
    assert migrate(mirror.engine) == []
    assert applied_versions(mirror.engine) == numbers


def test_a_second_connection_sees_committed_data(mirror: Mirror, db_url: str) -> None:
    page(mirror, hs("1", "a@x.io"))
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert other.execute("SELECT record_id FROM records").fetchall() == [("1",)]


def _transition(pid: str, to: Stage, frm: Stage | None = None, at: datetime = T0) -> StageTransition:
    return StageTransition(pid, frm, to, why(at=at))


def test_save_decisions_is_idempotent_and_moves_the_stage(mirror: Mirror) -> None:
    page(mirror, hs("1", "a@x.io"))
    pid = person_of(mirror, "a@x.io")
    assert pid
    move = _transition(pid, Stage.MQL)
    row = OutboxRow("k-1", Crm.HUBSPOT, "stage_update", pid, '{"v":1}', "contacts", "1", decision=move)
    with mirror.transaction() as s:
        first = save_decisions(s, start_run(s, "sync"), [move], [row])
    with mirror.transaction() as s:
        second = save_decisions(s, None, [move], [row])
    assert (first.decisions_new, first.outbox_new) == (1, 1)
    assert (second.decisions_new, second.outbox_new, second.stale) == (0, 0, 1)
    assert count(mirror, t.DECISIONS) == 1
    assert count(mirror, t.OUTBOX) == 1
    later = _transition(pid, Stage.SQL, Stage.MQL, T0 + timedelta(days=1))
    with mirror.transaction() as s:
        save_decisions(s, None, [later])
    with mirror.reader() as s:
        (person,) = list(load_people(s, [pid]))
        assert integrity_check(s) == []
    assert person.stage is Stage.SQL
    assert [h.stage for h in person.history] == [Stage.MQL, Stage.SQL]


def test_same_key_with_another_payload_is_reported_not_overwritten(mirror: Mirror) -> None:
    with mirror.transaction() as s:
        save_decisions(s, None, [], [OutboxRow("k", Crm.HUBSPOT, "stage_update", "p", '{"a":1}')])
    with mirror.transaction() as s:
        result = save_decisions(s, None, [], [OutboxRow("k", Crm.HUBSPOT, "stage_update", "p", '{"a":2}')])
        assert result.payload_mismatch == ("k",)
        assert get_items(s, ["k"])["k"].payload == '{"a":1}'


def _queue(mirror: Mirror, *keys: str) -> None:
    rows = [OutboxRow(k, Crm.SALESFORCE, "stage_update", "p", "{}", "Lead", "00Q1") for k in keys]
    with mirror.transaction() as s:
        save_decisions(s, None, [], rows)


def test_outbox_state_transitions(mirror: Mirror) -> None:
    _queue(mirror, "a", "b", "c", "d")
    later = datetime.now(UTC) + timedelta(hours=1)
    with mirror.transaction() as s:
        mark_status(s, "a", OutboxStatus.UNKNOWN, error="sent, no answer yet")
        mark_sent(s, "a", ["00T1"], http_status=200)
        mark_failed(
            s, "b", "503 from Authorization: Bearer s3cr3t-token", retryable=True, next_attempt_at=later
        )
        mark_failed(s, "c", "ENTITY_IS_DELETED", retryable=False, http_status=404)
        mark_status(s, "d", OutboxStatus.CONFLICT, error="human edit")
    with mirror.reader() as s:
        items = get_items(s, "abcd")
        assert [items[k].status for k in "abcd"] == ["sent", "failed", "dead", "conflict"]
        assert items["a"].attempts == 1
        assert items["a"].crm_ids == ("00T1",)
        assert "s3cr3t" not in (items["b"].last_error or "")
        assert [i.key for i in pending(s, Crm.SALESFORCE)] == []
        assert [i.key for i in pending(s, Crm.SALESFORCE, now=later)] == ["b"]
        assert [i.key for i in dead_letters(s)] == ["c"]
        assert [a.outcome for a in attempts_for(s, "a")] == ["unknown", "sent"]
    with mirror.transaction() as s:
        assert requeue(s, ["c"]) == 1
        assert requeue(s) == 2  # b (failed) and d (conflict); a stays sent
    with mirror.reader() as s:
        assert sorted(i.key for i in pending(s, Crm.SALESFORCE)) == ["b", "c", "d"]
        assert integrity_check(s) == []


def test_load_people_assembles_records_deals_stage_and_tasks(mirror: Mirror) -> None:
    shared = {"contacts": ("1", "9")}
    deal = SourceRecord(Crm.HUBSPOT, "deals", "d1", {"dealstage": "x"}, T0, associations=shared)
    opp = SourceRecord(Crm.SALESFORCE, "Opportunity", "006A", {"ContactId": "003A"}, T0)
    converted = SourceRecord(Crm.SALESFORCE, "Opportunity", "006B", {"StageName": "x"}, T0)
    lead = sf("Lead", "00QA", "a@x.io", ConvertedOpportunityId="006B")  # the person side declares it
    other = SourceRecord(
        Crm.HUBSPOT, "deals", "d2", {"dealstage": "x"}, T0, associations={"contacts": ("9",)}
    )
    page(mirror, deal, opp, converted, lead, other, hs("1", "A@x.io"), sf("Contact", "003A", "a@x.io"))
    page(mirror, hs("9", "z@x.io"))
    pid = person_of(mirror, "a@x.io")
    assert pid
    task = TaskDecision(
        pid,
        Crm.HUBSPOT,
        "Call",
        "body",
        T0,
        "HIGH",
        None,
        (TargetRef(Crm.HUBSPOT, "contacts", "1"),),
        why("sla"),
    )
    with mirror.transaction() as s:
        save_decisions(
            s,
            None,
            [_transition(pid, Stage.SQL), task],
            [OutboxRow("task-1", Crm.HUBSPOT, "task_create", pid, "{}", "tasks", None, task)],
        )
    with mirror.reader() as s:
        (person,) = list(load_people(s, [pid]))
    assert person.email == "a@x.io"
    assert {(r.crm, r.record_id) for r in person.records} == {
        (Crm.HUBSPOT, "1"),
        (Crm.SALESFORCE, "003A"),
        (Crm.SALESFORCE, "00QA"),
    }
    assert [d.record_id for d in person.deals] == ["d1", "006A", "006B"]
    with mirror.reader() as s:
        (other_person,) = list(load_people(s, [person_of(mirror, "z@x.io") or ""]))
    assert [d.record_id for d in other_person.deals] == ["d1", "d2"]  # a deal shared by two people
    assert person.stage is Stage.SQL
    assert person.open_tasks == ("task-1",)


def test_timeline_tells_versions_decisions_and_writes_in_order(mirror: Mirror) -> None:
    page(mirror, hs("1", "a@x.io"))
    pid = person_of(mirror, "a@x.io")
    assert pid
    move = _transition(pid, Stage.MQL, at=T0 + timedelta(hours=1))
    row = OutboxRow("k", Crm.HUBSPOT, "stage_update", pid, "{}", "contacts", "1", decision=move)
    with mirror.transaction() as s:
        save_decisions(s, None, [move], [row])
        mark_sent(s, "k", ["1"], http_status=200)
    with mirror.reader() as s:
        timeline = person_timeline(s, "A@X.io")
        assert person_timeline(s, "nobody@x.io") is None
    assert timeline is not None
    assert [e.kind for e in timeline.events] == ["version", "decision", "write", "attempt"]
    assert timeline.events[1].detail["inputs"] == {"score": 80}
    assert "r1" in timeline.events[1].summary


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("records", "modified_at"),
        ("records", "first_seen"),
        ("records", "last_seen"),
        ("records", "version_at"),
        ("record_versions", "modified_at"),
        ("record_versions", "pulled_at"),
        ("people", "created_at"),
    ],
)
def test_bulk_writes_store_datetimes_like_sqlalchemy(
    mirror: Mirror, db_url: str, table: str, column: str
) -> None:
    """The tuple fast path must store the same text as Core, or SQL range comparisons would break."""
    page(mirror, hs("1", "a@x.io"), hs("1", "a@x.io"))
    page(mirror, hs("1", "a@x.io", note="x"))  # a change: version 1 copied into record_versions
    page(mirror, hs("1", "a@x.io", note="x"))  # the unchanged path rewrites last_seen
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        (stored,) = raw.execute(f"SELECT {column} FROM {table}").fetchone()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", stored), stored


def test_a_version_2_database_upgrades_and_finds_deals_by_target_through_an_index(
    mirror: Mirror, db_url: str
) -> None:
    page(mirror, SourceRecord(Crm.HUBSPOT, "deals", "d1", {}, T0, associations={"contacts": ("1",)}))
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:  # back to the schema before 3
        raw.execute("DROP INDEX ix_record_links_to_from")
        raw.execute("DELETE FROM schema_migrations WHERE version = 3")
    assert migrate(mirror.engine) == [3]
    assert count(mirror, t.LINKS) == 1
    query = (
        "SELECT object_type, record_id FROM record_links WHERE crm = ? AND to_type = ? AND to_id IN (?, ?)"
    )
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        plan = " ".join(
            row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {query}", ("hubspot", "contacts", "1", "2"))
        )
    assert "ix_record_links_to_from" in plan, plan


def test_a_new_mirror_uses_8_kib_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    fresh = open_mirror(f"sqlite:///{tmp_path / 'new.db'}")
    with fresh.reader() as s:
        assert s.connection().exec_driver_sql("PRAGMA page_size").scalar() == 8192
    fresh.close()
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as raw:  # a mirror made before: 4 KiB pages, WAL already on
        raw.execute("PRAGMA page_size=4096")
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE t (x)")
    reopened = open_mirror(f"sqlite:///{old}")
    page(reopened, hs("1", "a@x.io"))
    with reopened.reader() as s:
        assert s.connection().exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert integrity_check(s) == []
    reopened.close()
