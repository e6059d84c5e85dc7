"""Whom a cycle evaluates: every way a person's inputs change reaches the change log, whoever
writes it; timers, new people, a new mapping and the sweep select people too; consuming the log
keeps what arrived after the selection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.mirror import (
    Mirror,
    OutboxRow,
    OutboxStatus,
    mark_deleted,
    mark_sent,
    mark_status,
    migrate,
    requeue,
    resolve_person,
    save_decisions,
    upsert_page,
)
from connector.mirror import people as people_module
from connector.mirror import tables as t
from connector.mirror.evaluations import (
    CLOSED_TASK_STATUSES,
    PersonEvaluation,
    Selection,
    change_mark,
    record_evaluations,
    select_people,
)
from connector.mirror.migrations import CHANGE_TRIGGERS
from connector.model import Crm, Provenance, SourceRecord, Stage, StageChange, StageTransition
from connector.push.store import OPS
from connector.push.writes import WriteKind
from tests.unit.mirror.legacy import legacy_mirror

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
V = "v1"


def hs(rid: str, email: str | None, **props: str) -> SourceRecord:
    return SourceRecord(Crm.HUBSPOT, "contacts", rid, {"email": email, **props}, T0)


def deal(rid: str, *contacts: str) -> SourceRecord:
    return SourceRecord(
        Crm.HUBSPOT,
        "deals",
        rid,
        {"dealstage": "appointmentscheduled"},
        T0,
        associations={"contacts": contacts},
    )


def page(mirror: Mirror, *records: SourceRecord) -> None:
    with mirror.transaction() as s:
        upsert_page(s, None, records)


def pid(mirror: Mirror, key: str) -> str:
    with mirror.reader() as s:
        found = resolve_person(s, key)
    assert found is not None
    return found


def selected(
    mirror: Mirror, now: datetime = NOW, version: str = V, sweep: timedelta | None = None
) -> set[str]:
    with mirror.reader() as s:
        chosen = select_people(s, version, now, sweep)
        everyone = set(s.connection().execute(select(t.IDENTITIES.c.person_id)).scalars())
    return everyone if chosen.person_ids is None else set(chosen.person_ids)


def evaluate_all(
    mirror: Mirror, now: datetime = NOW, next_check: datetime | None = None, version: str = V
) -> Selection:
    """A cycle's bookkeeping without the engine: everyone selected is recorded as evaluated."""
    with mirror.reader() as s:
        chosen = select_people(s, version, now, None)
        ids = chosen.person_ids or tuple(
            set(s.connection().execute(select(t.IDENTITIES.c.person_id)).scalars())
        )
    with mirror.transaction() as s:
        mark = change_mark(s)
        outcomes = {p: PersonEvaluation(next_check) for p in ids}
        record_evaluations(s, chosen, None, version, now, outcomes=outcomes, saved_after=mark)
    return chosen


@pytest.fixture
def settled(mirror: Mirror) -> Mirror:
    """Three people (a deal on the first), all evaluated: nobody is due."""
    page(mirror, hs("1", "a@x.io"), hs("2", "b@x.io"), hs("3", "c@x.io"))
    page(mirror, deal("d1", "1"))
    evaluate_all(mirror)
    assert selected(mirror) == set()
    return mirror


def outbox_row(mirror: Mirror, key: str, person: str, op: str, record: str | None = None) -> None:
    with mirror.transaction() as s:
        row = OutboxRow(key, Crm.HUBSPOT, op, person, "{}", "contacts" if record else None, record)
        save_decisions(s, None, [], [row])


def test_a_fresh_mirror_selects_everyone_as_new(mirror: Mirror) -> None:
    page(mirror, hs("1", "a@x.io"), hs("2", "b@x.io"))
    with mirror.reader() as s:
        chosen = select_people(s, V, NOW)
    assert (chosen.person_ids, chosen.people, dict(chosen.reasons)) == (None, 2, {"new": 2})


@pytest.mark.parametrize(
    ("change", "who"),
    [
        ("edit", ["hubspot:contacts:2"]),
        ("deal_edit", ["hubspot:contacts:1"]),
        ("deal_moves", ["hubspot:contacts:1", "hubspot:contacts:2"]),  # the one who lost it too
        ("merge", ["hubspot:contacts:2"]),
        ("tombstone", ["hubspot:contacts:3"]),
        ("new_person", ["hubspot:contacts:4"]),
    ],
)
def test_a_change_to_a_persons_records_selects_them_and_only_them(
    settled: Mirror, change: str, who: list[str]
) -> None:
    actions: dict[str, Callable[[], None]] = {
        "edit": lambda: page(settled, hs("2", "b@x.io", hubspotscore="90")),
        "deal_edit": lambda: page(settled, replace(deal("d1", "1"), properties={"dealstage": "closedwon"})),
        "deal_moves": lambda: page(settled, deal("d1", "2")),
        "merge": lambda: page(settled, hs("2", "b@x.io", hs_merged_object_ids="3")),
        "tombstone": lambda: _tombstone(settled, "3"),
        "new_person": lambda: page(settled, hs("4", "d@x.io")),
    }  # fmt: skip
    actions[change]()
    assert selected(settled) == {pid(settled, key) for key in who}


def _tombstone(mirror: Mirror, rid: str) -> None:
    with mirror.transaction() as s:
        assert mark_deleted(s, Crm.HUBSPOT, "contacts", [rid]) == 1


@pytest.mark.parametrize(
    ("op", "moves", "selects"),
    [
        (OPS[WriteKind.TASK], ["unknown", "sent"], False),  # still open: nothing an evaluation reads
        (OPS[WriteKind.TASK], ["dead"], True),  # no longer open: the task may be decided again
        (OPS[WriteKind.TASK], ["superseded"], True),
        (OPS[WriteKind.STAGE], ["unknown"], False),
        (OPS[WriteKind.STAGE], ["sent"], True),  # echo suppression reads sent stage writes
    ],
)
def test_outbox_moves_select_the_person_when_an_evaluation_reads_them(
    settled: Mirror, op: str, moves: list[str], selects: bool
) -> None:
    person = pid(settled, "hubspot:contacts:2")
    outbox_row(settled, "k1", person, op, "2")
    evaluate_all(settled)  # the insert itself (an open task) was a change
    for status in moves:
        with settled.transaction() as s:
            if status == "sent":
                mark_sent(s, "k1")
            else:
                mark_status(s, "k1", OutboxStatus(status))
    assert selected(settled) == ({person} if selects else set())


def test_a_requeued_dead_task_selects_its_person(settled: Mirror) -> None:
    person = pid(settled, "hubspot:contacts:3")
    outbox_row(settled, "k2", person, OPS[WriteKind.TASK])
    with settled.transaction() as s:
        mark_status(s, "k2", OutboxStatus.DEAD)
    evaluate_all(settled)
    with settled.transaction() as s:
        assert requeue(s, ["k2"]) == 1
    assert selected(settled) == {person}


def test_a_stage_moved_by_someone_else_selects_the_person(settled: Mirror) -> None:
    person = pid(settled, "hubspot:contacts:1")
    move = StageTransition(person, None, Stage.LEAD, Provenance("r", V, {}, NOW))
    with settled.transaction() as s:
        save_decisions(s, None, [move])
    assert selected(settled) == {person}


def test_timers_new_mapping_and_sweep_select(settled: Mirror) -> None:
    due = NOW + timedelta(hours=3)
    evaluate_all(settled, next_check=due)
    assert selected(settled, due - timedelta(microseconds=1)) == set()
    assert len(selected(settled, due)) == 3
    assert len(selected(settled, NOW, version="v2")) == 3
    evaluate_all(settled, next_check=None)
    assert selected(settled, NOW + timedelta(hours=5), sweep=timedelta(hours=6)) == set()
    assert len(selected(settled, NOW + timedelta(hours=6), sweep=timedelta(hours=6))) == 3


def test_consuming_keeps_changes_made_after_the_selection(settled: Mirror) -> None:
    """A pull committing between the selection and the save is evaluated next cycle; the save's
    own rows (the person it moved, as decided) are not."""
    first, second = pid(settled, "hubspot:contacts:1"), pid(settled, "hubspot:contacts:2")
    page(settled, hs("1", "a@x.io", hubspotscore="80"))
    with settled.reader() as s:
        chosen = select_people(s, V, NOW, None)
    assert chosen.person_ids == (first,)
    page(settled, hs("2", "b@x.io", hubspotscore="80"))  # committed after the selection read
    move = StageTransition(first, None, Stage.MQL, Provenance("r", V, {}, NOW))
    with settled.transaction() as s:
        mark = change_mark(s)
        save_decisions(s, None, [move])
        done = PersonEvaluation(None, moved_to=(Stage.MQL, (StageChange(Stage.MQL, NOW, "r"),)))
        record_evaluations(s, chosen, None, V, NOW, outcomes={first: done}, saved_after=mark)
    assert selected(settled) == {second}


@pytest.mark.parametrize(
    "outcome",
    [
        PersonEvaluation(
            None, moved_to=(Stage.SQL, (StageChange(Stage.SQL, NOW, "r"),))
        ),  # not what was saved
        PersonEvaluation(None, settled=False),  # its last step still moved
        PersonEvaluation(None, task_keys=("never-saved",)),  # a task that is not open after the save
    ],
    ids=["stage", "unsettled", "task"],
)
def test_a_save_that_left_another_state_than_decided_keeps_the_person_due(
    settled: Mirror, outcome: PersonEvaluation
) -> None:
    person = pid(settled, "hubspot:contacts:3")
    with settled.reader() as s:
        chosen = select_people(s, V, NOW, None)
    with settled.transaction() as s:
        mark = change_mark(s)
        record_evaluations(s, chosen, None, V, NOW, outcomes={person: outcome}, saved_after=mark)
    assert selected(settled) == {person}
    assert selected(settled, NOW - timedelta(seconds=1)) == set()  # due from the cycle's now on


def test_an_existing_mirror_upgrades_and_evaluates_everyone_once(
    mirror: Mirror, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page(mirror, hs("1", "a@x.io"), hs("2", "b@x.io"))
    old = legacy_mirror(db_url, f"sqlite:///{tmp_path / 'old.db'}", 3, monkeypatch)  # before 4
    try:
        assert migrate(old.engine) == [4, 5, 6, 7, 8, 9]
        assert len(selected(old)) == 2
        evaluate_all(old)
        assert selected(old) == set()
        page(old, hs("2", "b@x.io", hubspotscore="5"))
        assert selected(old) == {pid(old, "hubspot:contacts:2")}
    finally:
        old.close()


def test_the_triggers_read_the_outbox_as_load_people_and_echo_do() -> None:
    assert CLOSED_TASK_STATUSES == people_module._CLOSED_TASK_STATUSES
    assert OPS[WriteKind.TASK] == people_module.TASK_OP
    closed = ", ".join(f"'{s}'" for s in CLOSED_TASK_STATUSES)
    for name in ("outbox_add", "outbox_move", "outbox_drop"):
        assert f".op = '{OPS[WriteKind.TASK]}' AND" in CHANGE_TRIGGERS[name]
        assert f".status NOT IN ({closed})" in CHANGE_TRIGGERS[name]
        assert f".op = '{OPS[WriteKind.STAGE]}' AND" in CHANGE_TRIGGERS[name]
