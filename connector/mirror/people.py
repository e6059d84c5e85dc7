"""Assemble `Person` values for the engine: a fixed number of keyed queries per batch of people.

Merged-away and deleted records come back with `archived=True` so the engine still sees them but
the planner never writes to them. Deals are found through `record_links` in both directions
(a HubSpot deal declares its contacts; a Salesforce Lead declares its converted Opportunity).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.identity import DEAL_TYPES, email_person_id, normalise_email, owned_records, survivors
from connector.mirror.records import row_to_record
from connector.mirror.sqlutil import chunks
from connector.model import Crm, Person, SourceRecord, Stage, StageChange

TASK_OP = "task_create"
# what `_as_seen` reads: fetching whole rows converted two more datetimes per record for nothing
_SEEN = [
    t.RECORDS.c[name]
    for name in (
        "crm",
        "object_type",
        "record_id",
        "properties",
        "associations",
        "modified_at",
        "archived",
        "deleted",
        "merged_into",
    )
]
_CLOSED_TASK_STATUSES = ("dead", "superseded")


def resolve_person(session: Session, email_or_id: str) -> str | None:
    """A person id from an email, a person id, or a record key `crm:object_type:record_id`."""
    text = email_or_id.strip()
    candidates = [text]
    email = normalise_email(text)
    if email and "@" in email:
        candidates.append(email_person_id(email))
    parts = text.split(":", 2)
    if len(parts) == 3:
        ids = t.IDENTITIES.c
        owner = (
            session.connection()
            .execute(
                select(ids.person_id).where(
                    ids.crm == parts[0], ids.object_type == parts[1], ids.record_id == parts[2]
                )
            )
            .scalar()
        )
        if owner:
            candidates.insert(0, owner)
    found = survivors(session, candidates)
    return next((found[c] for c in candidates if c in found), None)


def _all_person_ids(session: Session) -> list[str]:
    ids = t.IDENTITIES.c
    stmt = select(ids.person_id).distinct().order_by(ids.person_id)
    return list(session.connection().execute(stmt).scalars())


def load_people(
    session: Session, person_ids: Iterable[str] | None = None, batch: int = 500
) -> Iterator[Person]:
    """Every linked person (or the given ones, merged ids resolved), `batch` people per query round."""
    if person_ids is None:
        wanted = _all_person_ids(session)
    else:
        resolved = survivors(session, person_ids)
        wanted = sorted(set(resolved.values()))
    for part in chunks(wanted, batch):
        yield from _load_batch(session, part)


def _load_batch(session: Session, pids: Sequence[str]) -> Iterator[Person]:
    conn = session.connection()
    rec, ids = t.RECORDS.c, t.IDENTITIES.c
    people = select(t.PEOPLE.c.person_id, t.PEOPLE.c.email).where(t.PEOPLE.c.person_id.in_(pids))
    emails: dict[str, str | None] = dict(conn.execute(people).all())
    records: dict[str, list[SourceRecord]] = defaultdict(list)
    id_emails: dict[str, list[str]] = defaultdict(list)
    own = select(*_SEEN, ids.person_id.label("owner"), ids.email.label("id_email")).join(
        t.IDENTITIES,
        and_(ids.crm == rec.crm, ids.object_type == rec.object_type, ids.record_id == rec.record_id),
    )
    for row in conn.execute(
        own.where(ids.person_id.in_(pids)).order_by(rec.crm, rec.object_type, rec.record_id)
    ).all():
        records[row.owner].append(_as_seen(row))
        if row.id_email:
            id_emails[row.owner].append(row.id_email)
    deals = _deals(session, pids)
    stages, history = _stages(session, pids)
    tasks = _open_tasks(session, pids)
    for pid in pids:
        yield Person(
            person_id=pid,
            email=emails.get(pid) or next(iter(id_emails[pid]), None),
            records=tuple(records[pid]),
            deals=tuple(deals.get(pid, ())),
            stage=stages.get(pid),
            history=tuple(history[pid]),
            open_tasks=tuple(tasks.get(pid, ())),
        )


def _as_seen(row: object) -> SourceRecord:
    record = row_to_record(row)
    hidden = bool(getattr(row, "deleted", False)) or getattr(row, "merged_into", None) is not None
    return replace(record, archived=True) if hidden and not record.archived else record


def _deals(session: Session, pids: Sequence[str]) -> dict[str, list[SourceRecord]]:
    """Deals linked to the people's records, whichever side declared the association.

    Keyed lookups only (identities by person, links by either end's index, deals by primary key):
    a join filtered on the person ids let SQLite scan every record per batch, quadratic overall.
    """
    conn = session.connection()
    links = t.LINKS.c
    owners: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # (crm, type) -> id -> person
    for crm, object_type, record_id, owner in owned_records(session, pids):
        owners[(crm, object_type)][record_id] = owner
    wanted: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (crm, object_type), members in owners.items():
        for part in chunks(list(members)):
            deal_declares = select(links.object_type, links.record_id, links.to_id).where(
                links.crm == crm, links.to_type == object_type, links.to_id.in_(part)
            )
            for deal_type, deal_id, member in conn.execute(deal_declares).all():
                if (Crm(crm), deal_type) in DEAL_TYPES:
                    wanted[(crm, deal_type)][deal_id].add(members[member])
            person_declares = select(links.record_id, links.to_type, links.to_id).where(
                links.crm == crm, links.object_type == object_type, links.record_id.in_(part)
            )
            for member, deal_type, deal_id in conn.execute(person_declares).all():
                if (Crm(crm), deal_type) in DEAL_TYPES:
                    wanted[(crm, deal_type)][deal_id].add(members[member])
    found: dict[str, dict[tuple[str, str, str], SourceRecord]] = defaultdict(dict)
    rec = t.RECORDS.c
    for (crm, deal_type), deals in wanted.items():
        for part in chunks(list(deals)):
            stmt = select(*_SEEN).where(rec.crm == crm, rec.object_type == deal_type, rec.record_id.in_(part))
            for row in conn.execute(stmt).all():
                for owner in deals[row.record_id]:
                    found[owner][(row.crm, row.object_type, row.record_id)] = _as_seen(row)
    return {pid: [deals[k] for k in sorted(deals)] for pid, deals in found.items()}


def _stages(session: Session, pids: Sequence[str]) -> tuple[dict[str, Stage], dict[str, list[StageChange]]]:
    st, hist = t.PERSON_STAGES.c, t.STAGE_HISTORY.c
    conn = session.connection()
    stages = {
        pid: Stage(stage)
        for pid, stage in conn.execute(select(st.person_id, st.stage).where(st.person_id.in_(pids))).all()
    }
    history: dict[str, list[StageChange]] = defaultdict(list)
    rows = conn.execute(
        select(hist.person_id, hist.stage, hist.entered_at, hist.rule_id)
        .where(hist.person_id.in_(pids))
        .order_by(hist.person_id, hist.entered_at, hist.id)
    ).all()
    for pid, stage, at, rule in rows:
        history[pid].append(StageChange(Stage(stage), at, rule))
    return stages, history


def _open_tasks(session: Session, pids: Sequence[str]) -> dict[str, list[str]]:
    """Task keys already decided, including those filed under a person since merged into this one."""
    people, out = t.PEOPLE.c, t.OUTBOX.c
    conn = session.connection()
    alias = {pid: pid for pid in pids}
    merged = select(people.person_id, people.merged_into).where(people.merged_into.in_(pids))
    alias.update(dict(conn.execute(merged).all()))
    tasks: dict[str, list[str]] = defaultdict(list)
    for part in chunks(list(alias)):
        rows = conn.execute(
            select(out.person_id, out.key).where(
                out.op == TASK_OP, out.status.not_in(_CLOSED_TASK_STATUSES), out.person_id.in_(part)
            )
        )
        for pid, key in rows:
            tasks[alias[pid]].append(key)
    return {pid: sorted(keys) for pid, keys in tasks.items()}
