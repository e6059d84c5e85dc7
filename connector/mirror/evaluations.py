"""Whom a sync cycle evaluates, and what it remembers about each evaluation.

A person is evaluated when something they are made of changed since their last evaluation, a
timer of theirs is due, they were never evaluated under this mapping version, or their periodic
re-check (the sweep, a safety net) is due; everyone else is skipped as unchanged.

Changes come from `evaluation_changes`, a log that triggers (migration 4) append to in the very
transaction that changes a record, a link, an identity, a person, a stage or an outbox row an
evaluation reads, whoever writes it: a cycle, `revops-sync pull`, a backfill, a requeue. So a
crash between the pull and the evaluation loses nothing, and `record_evaluations` consumes the
rows a selection read in the transaction that saves the decisions. Timers come from the engine
(`evaluate_with_next_check`), stored per person as `next_check_at`. Without triggers (a database
other than SQLite) every cycle evaluates everyone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, delete, distinct, func, or_, select
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.identity import DEAL_TYPES, RecordKey, identities_for, survivors
from connector.mirror.people import TASK_OP
from connector.mirror.sqlutil import chunks, upsert_rows
from connector.model import Stage, StageChange

DEFAULT_SWEEP = timedelta(hours=6)
_DEALS = frozenset((crm.value, object_type) for crm, object_type in DEAL_TYPES)
_COLUMNS = ("person_id", "evaluated_run_id", "mapping_version", "evaluated_at", "next_check_at")
CLOSED_TASK_STATUSES = ("dead", "superseded")  # as people.py reads open tasks (tested equal)


@dataclass(frozen=True, slots=True)
class Selection:
    """The people one cycle evaluates (`person_ids`, or None for everyone) and why."""

    person_ids: tuple[str, ...] | None
    people: int  # people in the mirror
    reasons: Mapping[str, int] = field(default_factory=dict)  # new, mapping, timer, sweep, changed
    changes_upto: int = 0  # the change log rows read: seq <= this

    @property
    def count(self) -> int:
        return self.people if self.person_ids is None else len(self.person_ids)


def logs_changes(session: Session) -> bool:
    """Whether the change log is written (its triggers exist on SQLite only)."""
    return session.connection().dialect.name == "sqlite"


def select_people(
    session: Session, mapping_version: str, now: datetime, sweep_every: timedelta | None = DEFAULT_SWEEP
) -> Selection:
    """Who must be evaluated at `now`; read in the cycle's evaluation snapshot."""
    conn = session.connection()
    ids, ev, log = t.IDENTITIES.c, t.EVALUATIONS.c, t.EVALUATION_CHANGES.c
    total = conn.execute(select(func.count(distinct(ids.person_id)))).scalar() or 0
    if not logs_changes(session):
        return Selection(None, total, {"everyone": total})
    upto = conn.execute(select(func.max(log.seq))).scalar() or 0
    people = select(ids.person_id).distinct().subquery("linked")
    due = [ev.person_id.is_(None), ev.mapping_version != mapping_version, ev.next_check_at <= now]
    if sweep_every is not None:
        due.append(ev.evaluated_at <= now - sweep_every)
    why = case(
        (ev.person_id.is_(None), "new"),
        (ev.mapping_version != mapping_version, "mapping"),
        (ev.next_check_at <= now, "timer"),
        else_="sweep",
    )
    stmt = (
        select(people.c.person_id, why)
        .select_from(people.outerjoin(t.EVALUATIONS, ev.person_id == people.c.person_id))
        .where(or_(*due))
    )
    chosen: dict[str, str] = dict(conn.execute(stmt).all())
    if len(chosen) >= total:  # everyone anyway (a first cycle, a new mapping): no log to resolve
        return Selection(None, total, Counter(chosen.values()), upto)
    for pid in changed_people(session, upto):
        chosen.setdefault(pid, "changed")
    return Selection(tuple(sorted(chosen)), total, Counter(chosen.values()), upto)


def changed_people(session: Session, upto: int) -> set[str]:
    """The linked people the change log rows up to `upto` concern (survivors of merges)."""
    log = t.EVALUATION_CHANGES.c
    rows = session.connection().execute(
        select(log.person_id, log.crm, log.object_type, log.record_id).distinct().where(log.seq <= upto)
    )
    person_ids: set[str] = set()
    keys: set[RecordKey] = set()
    for pid, crm, object_type, record_id in rows:
        if pid is not None:
            person_ids.add(pid)
        if crm is not None and object_type is not None and record_id is not None:
            keys.add((crm, object_type, record_id))
    keys |= _deal_members(session, [k for k in keys if k[:2] in _DEALS])
    person_ids |= set(identities_for(session, keys).values())
    return _linked(session, set(survivors(session, person_ids).values()))


def _deal_members(session: Session, deals: Iterable[RecordKey]) -> set[RecordKey]:
    """The records linked to these deals in either direction (load_people finds deals so)."""
    conn, links = session.connection(), t.LINKS.c
    by_type: dict[tuple[str, str], list[str]] = {}
    for crm, object_type, record_id in deals:
        by_type.setdefault((crm, object_type), []).append(record_id)
    members: set[RecordKey] = set()
    for (crm, deal_type), record_ids in by_type.items():
        for part in chunks(record_ids):
            declared = select(links.to_type, links.to_id).where(
                links.crm == crm, links.object_type == deal_type, links.record_id.in_(part)
            )
            members.update((crm, to_type, to_id) for to_type, to_id in conn.execute(declared))
            declaring = select(links.object_type, links.record_id).where(
                links.crm == crm, links.to_type == deal_type, links.to_id.in_(part)
            )
            members.update((crm, object_type, rid) for object_type, rid in conn.execute(declaring))
    return members


def _linked(session: Session, person_ids: set[str]) -> set[str]:
    """Those of `person_ids` that own a record (the people a full cycle evaluates)."""
    ids = t.IDENTITIES.c
    found: set[str] = set()
    for part in chunks(sorted(person_ids)):
        stmt = select(ids.person_id).distinct().where(ids.person_id.in_(part))
        found.update(session.connection().execute(stmt).scalars())
    return found


@dataclass(frozen=True, slots=True)
class PersonEvaluation:
    """One person's evaluation, as `record_evaluations` needs it.

    A person's own decisions change their stored stage and open tasks, which the change log then
    shows. They need no new evaluation for it when the save left exactly what the evaluation
    ended on: `settled` (its last step moved nothing), the stage and history it ended with
    (`moved_to`, when it moved), and every task it decided now open. Otherwise (a stale or
    repeated transition, a task whose row stays closed...) they are due again next cycle.
    """

    next_check: datetime | None  # when a timer or time condition flips; None: never
    settled: bool = True
    moved_to: tuple[Stage | None, tuple[StageChange, ...]] | None = None
    task_keys: tuple[str, ...] = ()


def change_mark(session: Session) -> int:
    """The last change log row so far: call it in the save transaction before saving decisions."""
    if not logs_changes(session):
        return 0
    log = t.EVALUATION_CHANGES.c
    return session.connection().execute(select(func.max(log.seq))).scalar() or 0


def record_evaluations(
    session: Session,
    selection: Selection,
    run_id: int | None,
    mapping_version: str,
    now: datetime,
    *,
    outcomes: Mapping[str, PersonEvaluation],
    saved_after: int,
) -> None:
    """In the transaction that saved the cycle's decisions (`saved_after` = `change_mark` before
    saving): who was evaluated and when to look again. The change log rows the selection read are
    consumed, and so are those the save itself wrote (under the write lock, only it wrote since
    the mark); rows from other writers in between stay for the next cycle."""
    unsettled = _unsettled(session, outcomes)
    rows = [
        (pid, run_id, mapping_version, now, now if pid in unsettled else outcome.next_check)
        for pid, outcome in outcomes.items()
    ]
    upsert_rows(session, t.EVALUATIONS, _COLUMNS, rows, _COLUMNS[1:])
    if logs_changes(session):
        log = t.EVALUATION_CHANGES.c
        consumed = or_(log.seq <= selection.changes_upto, log.seq > saved_after)
        session.connection().execute(delete(t.EVALUATION_CHANGES).where(consumed))


def _unsettled(session: Session, outcomes: Mapping[str, PersonEvaluation]) -> set[str]:
    """People whose stored state after the save is not what their evaluation ended on."""
    out = {pid for pid, o in outcomes.items() if not o.settled}
    moved = {pid: o.moved_to for pid, o in outcomes.items() if o.moved_to is not None and pid not in out}
    if moved:
        stored = _stage_marks(session, list(moved))
        out.update(pid for pid, (stage, history) in moved.items() if stored.get(pid) != _mark(stage, history))
    tasks = {key: pid for pid, o in outcomes.items() if pid not in out for key in o.task_keys}
    if tasks:
        open_keys = _open_task_keys(session, list(tasks))
        out.update(pid for key, pid in tasks.items() if key not in open_keys)
    return out


StageMark = tuple[str | None, datetime | None, int]


def _mark(stage: Stage | None, history: tuple[StageChange, ...]) -> StageMark:
    """A stage and history as the save leaves them: the stage, since its last entry, how many.

    Each saved move appends one entry and sets the stage and its `since`; a move the save dropped
    (stale or repeated) leaves the stage, its time or the count short of what was decided."""
    return (stage.value if stage else None, history[-1].at if history else None, len(history))


def _stage_marks(session: Session, person_ids: Sequence[str]) -> dict[str, StageMark]:
    st, hist = t.PERSON_STAGES.c, t.STAGE_HISTORY.c
    conn = session.connection()
    current: dict[str, tuple[str, datetime]] = {}
    counts: dict[str, int] = {}
    for part in chunks(person_ids):
        for pid, stage, since in conn.execute(
            select(st.person_id, st.stage, st.since).where(st.person_id.in_(part))
        ):
            current[pid] = (stage, since)
        stmt = select(hist.person_id, func.count()).where(hist.person_id.in_(part)).group_by(hist.person_id)
        counts.update((pid, n) for pid, n in conn.execute(stmt))
    return {pid: (*current.get(pid, (None, None)), counts.get(pid, 0)) for pid in person_ids}


def _open_task_keys(session: Session, keys: Sequence[str]) -> set[str]:
    out = t.OUTBOX.c
    found: set[str] = set()
    for part in chunks(keys):
        stmt = select(out.key).where(
            out.key.in_(part), out.op == TASK_OP, out.status.not_in(CLOSED_TASK_STATUSES)
        )
        found.update(session.connection().execute(stmt).scalars())
    return found
