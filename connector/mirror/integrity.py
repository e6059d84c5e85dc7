"""`integrity_check`: the invariants the rest of the connector relies on, checked in SQL.

Returns one readable line per problem (empty list = healthy). Used after crash tests and by `doctor`.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.identity import PERSON_TYPES
from connector.mirror.linkqueue import queued_keys


def integrity_check(session: Session) -> list[str]:
    problems: list[str] = []
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        result = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
        if result != ["ok"]:
            problems.extend(f"sqlite: {line}" for line in result)
        problems.extend(
            f"foreign key: {row[0]} row {row[1]} -> {row[2]}"
            for row in conn.exec_driver_sql("PRAGMA foreign_key_check")
        )
    rec, ver, ids, people = t.RECORDS.c, t.VERSIONS.c, t.IDENTITIES.c, t.PEOPLE.c
    # record_versions holds the superseded versions 1 .. version_no - 1 of each record (migration 7)
    kept = (
        select(
            ver.crm,
            ver.object_type,
            ver.record_id,
            func.count().label("n"),
            func.min(ver.version_no).label("low"),
            func.max(ver.version_no).label("high"),
        )
        .group_by(ver.crm, ver.object_type, ver.record_id)
        .subquery()
    )
    on_key = and_(
        kept.c.crm == rec.crm, kept.c.object_type == rec.object_type, kept.c.record_id == rec.record_id
    )
    for crm, otype, rid, v, n, low, high in conn.execute(
        select(rec.crm, rec.object_type, rec.record_id, rec.version_no, kept.c.n, kept.c.low, kept.c.high)
        .outerjoin(kept, on_key)
        .where(
            (rec.version_no < 1)
            | (func.coalesce(kept.c.n, 0) != rec.version_no - 1)
            | (kept.c.low < 1)
            | (kept.c.high >= rec.version_no)
        )
    ):
        problems.append(
            f"records {crm}:{otype}:{rid}: version_no {v} but {n or 0} earlier version rows"
            f" numbered {low}..{high} (expected 1..{v - 1})"
        )
    queued = queued_keys(session)  # linked with their batch (linkqueue), not missing
    for crm, otype in PERSON_TYPES:
        missing = (
            select(rec.record_id)
            .outerjoin(
                t.IDENTITIES,
                and_(ids.crm == rec.crm, ids.object_type == rec.object_type, ids.record_id == rec.record_id),
            )
            .where(rec.crm == crm.value, rec.object_type == otype, ids.person_id.is_(None))
        )
        problems.extend(
            f"records {crm.value}:{otype}:{rid}: no identity"
            for rid in conn.execute(missing).scalars()
            if (crm.value, otype, rid) not in queued
        )
    owner = t.PEOPLE.alias("owner")
    for pid in conn.execute(
        select(ids.person_id)
        .join(owner, owner.c.person_id == ids.person_id)
        .where(owner.c.merged_into.is_not(None))
    ).scalars():
        problems.append(f"identities -> {pid}: person was merged (identity not moved to the survivor)")
    target = t.PEOPLE.alias("target")
    for pid, into in conn.execute(
        select(people.person_id, people.merged_into)
        .join(target, target.c.person_id == people.merged_into)
        .where(target.c.merged_into.is_not(None))
    ):
        problems.append(f"people {pid}: merged into {into}, itself merged (chain longer than one hop)")
    problems.extend(_stage_problems(session))
    problems.extend(_outbox_problems(session))
    return problems


def _stage_problems(session: Session) -> list[str]:
    st, hist = t.PERSON_STAGES.c, t.STAGE_HISTORY.c
    last = select(hist.person_id, func.max(hist.entered_at).label("at")).group_by(hist.person_id).subquery()
    rows = session.connection().execute(
        select(st.person_id, st.since, last.c.at)
        .outerjoin(last, last.c.person_id == st.person_id)
        .where((last.c.at.is_(None)) | (last.c.at != st.since))
    )
    return [f"person_stages {pid}: since {since} but last history entry {at}" for pid, since, at in rows]


def _outbox_problems(session: Session) -> list[str]:
    out = t.OUTBOX.c
    conn = session.connection()
    problems = [
        f"outbox {key}: sent without sent_at"
        for key in conn.execute(select(out.key).where(out.status == "sent", out.sent_at.is_(None))).scalars()
    ]
    problems.extend(
        f"outbox {key}: unknown status {status!r}"
        for key, status in conn.execute(
            select(out.key, out.status).where(
                out.status.not_in(["pending", "sent", "failed", "dead", "conflict", "unknown", "superseded"])
            )
        )
    )
    return problems
