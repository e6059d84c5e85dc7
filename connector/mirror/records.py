"""Current records and their versions: one page in, Core executemany out.

`upsert_page` reads the page's stored hashes in a few keyed queries, copies the current rows of
changed records into `record_versions` (one `INSERT ... SELECT` per object type and chunk), then
inserts new rows, updates changed ones and touches unchanged ones, one executemany each. The
current version lives only in `records` (migration 7); `history` reads every version. It does not
commit: call it inside `Mirror.transaction()` so the rows, the identities and the cursor land
together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256 as _sha256
from typing import Any

from sqlalchemy import ColumnElement, Subquery, bindparam, delete, select, union_all, update
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.cursors import set_cursor
from connector.mirror.identity import (
    DERIVED_LINKS,
    EMAIL_FIELD,
    MERGE_EDGES,
    MergeEdge,
    Person,
    email_of_value,
    link_people,
    record_links,
)
from connector.mirror.linkqueue import queue_links
from connector.mirror.sqlutil import (
    chunks,
    dumps,
    dumps_flat,
    in_params,
    insert_ignore_rows,
    now_utc,
    or_fail,
    prepare,
    run_in,
    update_by_key,
)
from connector.model import Crm, SourceRecord

FlagsFor = Callable[[SourceRecord], Iterable[str]]
"""Bad-data reasons for a record (unknown stage value, bad number...): mirrored and flagged, never dropped."""

_CHANGED_COLUMNS = (  # a changed record's new current version (first_seen and merged_into stay)
    "properties",
    "associations",
    "content_hash",
    "modified_at",
    "archived",
    "deleted",
    "flags",
    "last_seen",
    "version_no",
    "last_run_id",
    "version_at",
)


@dataclass(frozen=True, slots=True)
class CursorUpdate:
    """Where the stream stands after this page: the max modified value seen and its id tie-breaker."""

    stream: str
    value: str
    last_id: str | None = None


@dataclass(frozen=True, slots=True)
class PageResult:
    inserted: int
    changed: int
    unchanged: int
    queued: int = 0  # person records and merge edges queued for linking (`defer_links`)


@dataclass(frozen=True, slots=True)
class FlaggedRecord:
    crm: str
    object_type: str
    record_id: str
    flags: tuple[str, ...]


def content_hash(properties_json: str, archived: bool, associations_json: str) -> str:
    """sha256 over canonical JSON: equal content always hashes equal, whatever the key order.

    The formula is what existing mirrors store: changing it would version every record once."""
    middle = "\x1f1\x1f" if archived else "\x1f0\x1f"
    return _sha256((properties_json + middle + associations_json).encode()).hexdigest()


def _stored_query(count: int) -> tuple[Any, tuple[str, ...]]:
    rec = t.RECORDS.c
    keys, names = in_params(count)
    stmt = select(rec.record_id, rec.content_hash, rec.version_no).where(
        rec.crm == bindparam("crm"), rec.object_type == bindparam("object_type"), rec.record_id.in_(keys)
    )
    return stmt, ("crm", "object_type", *names)


def _links_delete(count: int) -> tuple[Any, tuple[str, ...]]:
    links = t.LINKS.c
    keys, names = in_params(count)
    stmt = delete(t.LINKS).where(
        links.crm == bindparam("crm"),
        links.object_type == bindparam("object_type"),
        links.record_id.in_(keys),
    )
    return stmt, ("crm", "object_type", *names)


def _stored(session: Session, crm: str, object_type: str, ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    """record id -> (content_hash, version_no) for the ids of one object type already mirrored."""
    found: dict[str, tuple[str, int]] = {}
    for part in chunks(ids):
        for record_id, digest, version in run_in(session, _stored_query, (crm, object_type), part):
            found[record_id] = (digest, version)
    return found


def _by_type(records: Sequence[SourceRecord]) -> dict[tuple[Crm, str], dict[str, SourceRecord]]:
    """Records grouped by (crm, object type), keyed by id: a record twice in a page, the later wins.

    A page is one object type in practice, so that case is checked without per-record tuples."""
    if not records:
        return {}
    first = records[0]
    crm, object_type = first.crm, first.object_type
    if all(r.crm is crm and r.object_type == object_type for r in records):
        return {(crm, object_type): {r.record_id: r for r in records}}
    grouped: dict[tuple[Crm, str], dict[str, SourceRecord]] = {}
    for r in records:
        grouped.setdefault((r.crm, r.object_type), {})[r.record_id] = r
    return grouped


_FLAG_JSON = {None: "[]", "no_email": '["no_email"]', "bad_email": '["bad_email"]'}


def _flags_json(email_flag: str | None, record: SourceRecord, flags_for: FlagsFor) -> str:
    """The record's bad-data flags as canonical JSON (sorted, unique)."""
    found = set(flags_for(record))
    if email_flag:
        found.add(email_flag)
    return dumps(sorted(found)) if found else "[]"


# merged_into is not written (NULL on insert, kept on update: merges set it). last_run_id is bound
# even without a run: it is the current version's run, a version row's `run_id` once superseded.
_RECORD_COLUMNS = (
    "crm",
    "object_type",
    "record_id",
    "properties",
    "associations",
    "content_hash",
    "modified_at",
    "archived",
    "deleted",
    "flags",
    "version_no",
    "first_seen",
    "last_seen",
    "last_run_id",
    "version_at",
)
_LINK_COLUMNS = ("crm", "object_type", "record_id", "to_type", "to_id")


def _insert_statement() -> tuple[Any, tuple[str, ...]]:
    """New records. New and changed records go in separate statements, not one upsert (which of
    the two a record is, the stored hashes say, inside the write transaction): the upsert cost
    15,200 more user-space instructions per pulled record in the full-pull replay, 10,700 of them
    with the change-log triggers dropped; the rest is the insert trigger firing inside an upsert,
    whose DO UPDATE half checks constraints with ABORT (so, presumably, a statement journal)."""
    return or_fail(t.RECORDS.insert()), _RECORD_COLUMNS


def _change_statement() -> tuple[Any, tuple[str, ...]]:
    """A changed record's new current version, by key (`OR FAIL`: see `sqlutil.or_fail`)."""
    rec = t.RECORDS.c
    stmt = (
        update_by_key(t.RECORDS)
        .values({name: bindparam(f"v_{name}", type_=rec[name].type) for name in _CHANGED_COLUMNS})
        .prefix_with("OR FAIL", dialect="sqlite")
    )
    return stmt, (*(f"v_{name}" for name in _CHANGED_COLUMNS), "k_crm", "k_type", "k_id")


def _touch_statement() -> tuple[Any, tuple[str, ...]]:
    """Unchanged record seen again: only last_seen and the (rule-dependent) flags move."""
    stmt = update_by_key(t.RECORDS).values(last_seen=bindparam("seen"), flags=bindparam("flags"))
    return stmt, ("seen", "flags", "k_crm", "k_type", "k_id")


_VERSION_COLUMNS = (
    "crm",
    "object_type",
    "record_id",
    "version_no",
    "content_hash",
    "properties",
    "archived",
    "modified_at",
    "run_id",
    "pulled_at",
)
# records' columns behind each of _VERSION_COLUMNS: the current version, named as a version row
_CURRENT_AS_VERSION = {"run_id": "last_run_id", "pulled_at": "version_at"}

KeyFilter = Callable[[Any], ColumnElement[bool]]
"""A condition on key columns (`crm`, `object_type`, `record_id`, `version_no`), given the columns
of `records` or of `record_versions` (both name them alike)."""


def _current_as_version() -> list[ColumnElement[Any]]:
    rec = t.RECORDS.c
    return [rec[_CURRENT_AS_VERSION.get(name, name)].label(name) for name in _VERSION_COLUMNS]


def history(where: KeyFilter | None = None) -> Subquery:
    """Every version of every record, with `record_versions`' columns: the superseded ones from
    `record_versions`, the current one from `records` (migration 7 stopped writing it twice).

    `where` filters both branches of the UNION ALL itself, so each uses its table's primary key
    whatever the database does with conditions outside a compound subquery."""
    superseded = select(*(t.VERSIONS.c[name] for name in _VERSION_COLUMNS))
    current = select(*_current_as_version())
    if where is not None:
        superseded = superseded.where(where(t.VERSIONS.c))
        current = current.where(where(t.RECORDS.c))
    return union_all(superseded, current).subquery("history")


def of_records(crm: str, object_type: str, record_ids: Sequence[str] | None = None) -> KeyFilter:
    """`history`'s filter for one object type's records (all of them when `record_ids` is None)."""

    def where(c: Any) -> ColumnElement[bool]:
        same_type: ColumnElement[bool] = (c.crm == crm) & (c.object_type == object_type)
        return same_type if record_ids is None else same_type & c.record_id.in_(record_ids)

    return where


def _archive(count: int) -> tuple[Any, tuple[str, ...]]:
    """The current rows of changed records copied into `record_versions` before their update
    replaces them: only changed records, by primary key (a first pull has none)."""
    rec = t.RECORDS.c
    keys, names = in_params(count)
    current = select(*_current_as_version()).where(
        rec.crm == bindparam("crm"), rec.object_type == bindparam("object_type"), rec.record_id.in_(keys)
    )
    stmt = or_fail(t.VERSIONS.insert().from_select(list(_VERSION_COLUMNS), current))
    return stmt, ("crm", "object_type", *names)


def upsert_page(
    session: Session,
    run_id: int | None,
    records: Sequence[SourceRecord],
    cursor: CursorUpdate | None = None,
    flags_for: FlagsFor | None = None,
    *,
    defer_links: bool = False,
) -> PageResult:
    """Mirror one page: current rows, the superseded version of each changed record, identities,
    links, cursor. With `defer_links` the page's person records are queued for `linkqueue` to
    link in a later batch (the pull does so) instead of linked here.

    One pass per record: its canonical JSON is built once for the hash and the current row, its
    normalised email once for the flags and the identity link, its row in the driver's types
    (datetimes as the dialect stores them). A changed record's previous current row moves to
    `record_versions` in SQL before the update overwrites it.
    """
    now = now_utc()
    insert = prepare(session, _insert_statement)
    when = insert.processor("modified_at")
    flag = insert.processor("archived")
    seen = when(now)
    inserted: list[tuple[Any, ...]] = []
    changed: list[tuple[Any, ...]] = []
    touched: list[tuple[Any, ...]] = []
    people: list[Person] = []
    edges: list[MergeEdge] = []
    links: list[tuple[str, str, str, str, str]] = []
    superseded: dict[tuple[str, str], list[str]] = {}  # ids of changed records: archived, links replaced
    for (crm, object_type), page in _by_type(records).items():
        crm_v = crm.value
        stored = _stored(session, crm_v, object_type, list(page))
        email_field = EMAIL_FIELD.get((crm, object_type))
        derived = DERIVED_LINKS.get((crm, object_type))
        edges_of = MERGE_EDGES.get((crm, object_type))
        for record_id, record in page.items():
            properties = record.properties
            props = dumps_flat(properties if properties.__class__ is dict else dict(properties))
            associations = record.associations
            assoc = dumps({k: sorted(v) for k, v in associations.items()}) if associations else "{}"
            archived = record.archived
            digest = content_hash(props, archived, assoc)
            email = email_flag = None
            if email_field is not None:
                email, email_flag = email_of_value(properties.get(email_field))
            if flags_for is None:
                flags = _FLAG_JSON[email_flag]
            else:
                flags = _flags_json(email_flag, record, flags_for)
            previous = stored.get(record_id)
            if previous is not None and previous[0] == digest:
                touched.append((now, flags, crm_v, object_type, record_id))
                continue
            deleted = (properties.get("IsDeleted") or "").lower() == "true"
            content = (props, assoc, digest, when(record.modified_at), flag(archived), flag(deleted), flags)
            key = (crm_v, object_type, record_id)
            if previous is None:
                inserted.append((*key, *content, 1, seen, seen, run_id, seen))
            else:
                changed.append((*content, seen, previous[1] + 1, run_id, seen, *key))
                superseded.setdefault((crm_v, object_type), []).append(record_id)
            if email_field is not None:
                people.append((key, email))
            if edges_of is not None:
                edges.extend(edges_of(key, properties))
            if associations or derived:
                declared = record_links(associations, derived, properties)
                links.extend((*key, to_type, to_id) for to_type, to_id in declared)
    for (crm_v, object_type), ids in superseded.items():
        for part in chunks(ids):
            run_in(session, _archive, (crm_v, object_type), part)
            run_in(session, _links_delete, (crm_v, object_type), part)  # links: what it declares now
    # ready: `when`/`flag` above converted the typed values already
    insert.run(session, inserted, ready=True)
    prepare(session, _change_statement).run(session, changed, ready=True)
    prepare(session, _touch_statement).run(session, touched)
    insert_ignore_rows(session, t.LINKS, _LINK_COLUMNS, links)
    queued = 0
    if defer_links:
        queued = queue_links(session, people, edges)
    else:
        link_people(session, people, edges)
    if cursor is not None:
        set_cursor(session, cursor.stream, cursor.value, cursor.last_id, run_id)
    return PageResult(inserted=len(inserted), changed=len(changed), unchanged=len(touched), queued=queued)


def row_to_record(row: Any) -> SourceRecord:
    """A `records` row (mapping with the table's columns) back into a SourceRecord."""
    assoc: dict[str, list[str]] = json.loads(row.associations)
    return SourceRecord(
        crm=Crm(row.crm),
        object_type=row.object_type,
        record_id=row.record_id,
        properties=json.loads(row.properties),
        modified_at=row.modified_at,
        archived=bool(row.archived),
        associations={k: tuple(v) for k, v in assoc.items()},
    )


def get_records(
    session: Session, crm: Crm, object_type: str, record_ids: Iterable[str]
) -> dict[str, SourceRecord]:
    """The latest mirrored copy of each record that is present (e.g. for the push conflict check)."""
    rec = t.RECORDS.c
    found: dict[str, SourceRecord] = {}
    for part in chunks(list(dict.fromkeys(record_ids))):
        stmt = select(t.RECORDS).where(
            rec.crm == crm.value, rec.object_type == object_type, rec.record_id.in_(part)
        )
        for row in session.connection().execute(stmt):
            found[row.record_id] = row_to_record(row)
    return found


def mark_deleted(session: Session, crm: Crm, object_type: str, record_ids: Iterable[str]) -> int:
    """Tombstone records the CRM reports deleted (kept, never removed: history and audit point at them)."""
    rec = t.RECORDS.c
    count = 0
    for part in chunks(list(dict.fromkeys(record_ids))):
        result = session.connection().execute(
            update(t.RECORDS)
            .where(rec.crm == crm.value, rec.object_type == object_type, rec.record_id.in_(part))
            .values(deleted=True, last_seen=now_utc())
        )
        count += result.rowcount
    return count


def flagged_records(session: Session) -> list[FlaggedRecord]:
    """Every mirrored record carrying at least one bad-data flag, for the report and `doctor`."""
    rec = t.RECORDS.c
    stmt = select(rec.crm, rec.object_type, rec.record_id, rec.flags).where(rec.flags != "[]")
    return [
        FlaggedRecord(crm, object_type, record_id, tuple(json.loads(flags)))
        for crm, object_type, record_id, flags in session.connection().execute(stmt)
    ]


def latest_modified(session: Session, crm: Crm, object_type: str) -> datetime | None:
    """The newest modified_at mirrored for an object type (a server-side clock, not local now).

    Not indexed (migration 5 dropped `ix_records_modified`: ~14,000 instructions per pulled record):
    a scan of the type's rows; nothing calls it on a hot path."""
    rec = t.RECORDS.c
    stmt = select(rec.modified_at).where(rec.crm == crm.value, rec.object_type == object_type)
    return session.connection().execute(stmt.order_by(rec.modified_at.desc()).limit(1)).scalar()
