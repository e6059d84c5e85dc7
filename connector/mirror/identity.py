"""Who is who: link person records across CRMs to one stable person id.

Rules (see README): normalised email links records; no email means a person of its own keyed by
`crm:object_type:record_id`; a record keeps its person forever, so a changed email or a merge
folds the *other* person into it; HubSpot merges and Salesforce lead conversion fold the merged
side into the survivor. `people.merged_into` and `identities.person_id` always point one hop to
the survivor, so a lookup never walks a chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.sqlutil import (
    chunks,
    in_params,
    insert_ignore_rows,
    now_utc,
    or_fail,
    prepare,
    run_in,
    update_by_key,
)
from connector.model import Crm, SourceRecord, Stage, ladder_rank

RecordKey = tuple[str, str, str]  # (crm, object_type, record_id)

EMAIL_FIELD: Mapping[tuple[Crm, str], str] = {
    (Crm.HUBSPOT, "contacts"): "email",
    (Crm.SALESFORCE, "Lead"): "Email",
    (Crm.SALESFORCE, "Contact"): "Email",
}
PERSON_TYPES = frozenset(EMAIL_FIELD)
DEAL_TYPES = frozenset({(Crm.HUBSPOT, "deals"), (Crm.SALESFORCE, "Opportunity")})

# Lookup fields that are associations in disguise: (crm, object_type) -> {field: target type}.
DERIVED_LINKS: Mapping[tuple[Crm, str], Mapping[str, str]] = {
    (Crm.SALESFORCE, "Opportunity"): {
        "ContactId": "Contact",
        "ContactId__c": "Contact",
        "AccountId": "Account",
    },
    (Crm.SALESFORCE, "Contact"): {"AccountId": "Account"},
    (Crm.SALESFORCE, "Lead"): {
        "ConvertedContactId": "Contact",
        "ConvertedOpportunityId": "Opportunity",
        "ConvertedAccountId": "Account",
    },
}


@dataclass(frozen=True, slots=True)
class MergeEdge:
    """`loser`'s person folds into `survivor`'s; `kind` is recorded as the identity's linked_by."""

    loser: RecordKey
    survivor: RecordKey
    kind: str


Person = tuple[RecordKey, str | None]  # a person record's key and its normalised email


def key_of(record: SourceRecord) -> RecordKey:
    return (record.crm.value, record.object_type, record.record_id)


def normalise_email(value: str | None) -> str | None:
    """lower/strip; blank -> None. Values without '@' are not emails (see `email_of`)."""
    if value is None:
        return None
    text = value.strip().lower()
    return text or None


def email_of_value(value: str | None) -> tuple[str | None, str | None]:
    """(normalised email or None, bad-data flag or None) for a person record's email field."""
    email = normalise_email(value)
    if email is None:
        return None, "no_email"
    if "@" not in email:
        return None, "bad_email"
    return email, None


def email_of(record: SourceRecord) -> tuple[str | None, str | None]:
    """(normalised email or None, bad-data flag or None) for a person record."""
    field = EMAIL_FIELD.get((record.crm, record.object_type))
    if field is None:
        return None, None
    return email_of_value(record.properties.get(field))


def email_person_id(email: str) -> str:
    return "e:" + hashlib.sha256(email.encode()).hexdigest()[:20]


def base_person_id(record: SourceRecord, email: str | None) -> str:
    return email_person_id(email) if email else ":".join(key_of(record))


def _hubspot_merges(key: RecordKey, props: Mapping[str, str | None]) -> list[MergeEdge]:
    """`hs_merged_object_ids` ("101;103") on the survivor: each merged id folds into it."""
    merged = props.get("hs_merged_object_ids")
    if not merged:
        return []
    crm, object_type, record_id = key
    return [
        MergeEdge((crm, object_type, m.strip()), key, "merge")
        for m in merged.replace(",", ";").split(";")
        if m.strip() and m.strip() != record_id
    ]


def _salesforce_conversion(key: RecordKey, props: Mapping[str, str | None]) -> list[MergeEdge]:
    """A converted Lead's `ConvertedContactId`: the lead folds into the contact."""
    contact = (props.get("ConvertedContactId") or "").strip()
    return [MergeEdge(key, (Crm.SALESFORCE.value, "Contact", contact), "conversion")] if contact else []


EdgesOf = Callable[[RecordKey, Mapping[str, str | None]], list[MergeEdge]]
MERGE_EDGES: Mapping[tuple[Crm, str], EdgesOf] = {
    (Crm.HUBSPOT, "contacts"): _hubspot_merges,
    (Crm.SALESFORCE, "Lead"): _salesforce_conversion,
}


def merge_edges(record: SourceRecord) -> list[MergeEdge]:
    """HubSpot `hs_merged_object_ids` on a survivor; Salesforce `Lead.ConvertedContactId`."""
    edges_of = MERGE_EDGES.get((record.crm, record.object_type))
    return edges_of(key_of(record), record.properties) if edges_of is not None else []


def record_links(
    associations: Mapping[str, tuple[str, ...]],
    derived: Mapping[str, str] | None,
    properties: Mapping[str, str | None],
) -> list[tuple[str, str]]:
    """(to_type, to_id) pairs: declared associations plus lookup fields that act as associations."""
    links = [(to_type, to_id) for to_type, ids in associations.items() for to_id in ids]
    if derived:
        for field, to_type in derived.items():
            value = properties.get(field)
            if value and (value := value.strip()):
                links.append((to_type, value))
    return list(dict.fromkeys(links)) if len(links) > 1 else links


def derived_links(record: SourceRecord) -> list[tuple[str, str]]:
    """(to_type, to_id) pairs: declared associations plus lookup fields that act as associations."""
    derived = DERIVED_LINKS.get((record.crm, record.object_type))
    return record_links(record.associations, derived, record.properties)


def _identities_query(count: int) -> tuple[Any, tuple[str, ...]]:
    ids = t.IDENTITIES.c
    keys, names = in_params(count)
    stmt = select(ids.record_id, ids.person_id).where(
        ids.crm == bindparam("crm"), ids.object_type == bindparam("object_type"), ids.record_id.in_(keys)
    )
    return stmt, ("crm", "object_type", *names)


def _survivors_query(count: int) -> tuple[Any, tuple[str, ...]]:
    people = t.PEOPLE.c
    keys, names = in_params(count)
    return select(people.person_id, people.merged_into).where(people.person_id.in_(keys)), names


def owned_records(session: Session, person_ids: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(crm, object_type, record_id, person_id) of every record these people own, by the
    `person_id` index (ids as given: resolve merged ones with `survivors` first)."""
    ids = t.IDENTITIES.c
    found: list[tuple[str, str, str, str]] = []
    for part in chunks(person_ids):
        stmt = select(ids.crm, ids.object_type, ids.record_id, ids.person_id).where(ids.person_id.in_(part))
        found.extend(session.connection().execute(stmt).all())
    return found


def identities_for(session: Session, keys: Iterable[RecordKey]) -> dict[RecordKey, str]:
    """record key -> person id, grouped by (crm, object_type) so each query uses the primary key."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for crm, object_type, record_id in keys:
        grouped.setdefault((crm, object_type), []).append(record_id)
    found: dict[RecordKey, str] = {}
    for (crm, object_type), record_ids in grouped.items():
        for part in chunks(record_ids):
            for record_id, person_id in run_in(session, _identities_query, (crm, object_type), part):
                found[(crm, object_type, record_id)] = person_id
    return found


def survivors(session: Session, person_ids: Iterable[str]) -> dict[str, str]:
    """person id -> the id it resolves to (itself when not merged); unknown ids are absent."""
    found: dict[str, str] = {}
    for part in chunks(list(set(person_ids))):
        for pid, merged in run_in(session, _survivors_query, (), part):
            found[pid] = merged or pid
    return found


_PEOPLE_COLUMNS = ("person_id", "email", "merged_into", "created_at")
_IDENTITY_COLUMNS = ("crm", "object_type", "record_id", "person_id", "email", "linked_by")


def _identity_insert() -> tuple[Any, tuple[str, ...]]:
    return or_fail(t.IDENTITIES.insert()), _IDENTITY_COLUMNS


def _identity_email() -> tuple[Any, tuple[str, ...]]:
    stmt = update_by_key(t.IDENTITIES).values(email=bindparam("k_email"))
    return stmt, ("k_email", "k_crm", "k_type", "k_id")


def link_records(session: Session, records: Sequence[SourceRecord]) -> None:
    """Link the person records of one page (new or changed ones) and apply their merge edges."""
    persons = [r for r in records if (r.crm, r.object_type) in PERSON_TYPES]
    link_people(
        session, [(key_of(r), email_of(r)[0]) for r in persons], [e for r in persons for e in merge_edges(r)]
    )


def link_people(session: Session, persons: Sequence[Person], edges: Sequence[MergeEdge]) -> None:
    """Link person records (key, normalised email) to people, then apply the page's merge edges."""
    if not persons:
        return
    bases: dict[RecordKey, str] = {}
    emails: dict[RecordKey, str | None] = {}
    for key, email in persons:
        bases[key] = email_person_id(email) if email else ":".join(key)
        emails[key] = email
    now = now_utc()
    first_key = dict(zip(bases.values(), bases, strict=True))  # person id -> the last record naming it
    people = [(pid, emails[k], None, now) for pid, k in first_key.items()]
    new = insert_ignore_rows(session, t.PEOPLE, _PEOPLE_COLUMNS, people)
    # Every person row was new (the first pull's common case): each resolves to itself.
    resolved = {pid: pid for pid in first_key} if new == len(people) else survivors(session, first_key)
    existing = identities_for(session, bases)
    fresh = [
        (*k, resolved[pid], emails[k], "email" if emails[k] else "id")
        for k, pid in bases.items()
        if k not in existing
    ]
    prepare(session, _identity_insert).run(session, fresh)
    if existing:
        prepare(session, _identity_email).run(session, [(emails[k], *k) for k in existing])
    for k, owner in existing.items():
        if resolved[bases[k]] != owner:  # email changed: the new email's person joins this one
            current = survivors(session, [bases[k], owner])
            merge_people(session, loser=current[bases[k]], survivor=current[owner])
    for edge in edges:
        apply_edge(session, edge)


def apply_edge(session: Session, edge: MergeEdge) -> None:
    """Fold the loser's person into the survivor's; pre-link whichever side is not mirrored yet."""
    known = identities_for(session, [edge.loser, edge.survivor])
    loser, survivor = known.get(edge.loser), known.get(edge.survivor)
    if loser and survivor:
        merge_people(session, loser=loser, survivor=survivor)
    elif loser or survivor:
        missing = edge.survivor if loser else edge.loser
        crm, object_type, record_id = missing
        session.execute(
            t.IDENTITIES.insert().values(
                crm=crm,
                object_type=object_type,
                record_id=record_id,
                person_id=loser or survivor,
                email=None,
                linked_by=edge.kind,
            )
        )
    if edge.kind == "merge":
        rec = t.RECORDS.c
        crm, object_type, record_id = edge.loser
        session.execute(
            update(t.RECORDS)
            .where(rec.crm == crm, rec.object_type == object_type, rec.record_id == record_id)
            .values(merged_into=edge.survivor[2])
        )


def merge_people(session: Session, *, loser: str, survivor: str) -> None:
    """Fold person `loser` into `survivor`: identities, people, stage and history move; audit stays."""
    if loser == survivor:
        return
    people, ids = t.PEOPLE.c, t.IDENTITIES.c
    session.execute(
        update(t.PEOPLE)
        .where(or_(people.person_id == loser, people.merged_into == loser))
        .values(merged_into=survivor)
    )
    session.execute(update(t.IDENTITIES).where(ids.person_id == loser).values(person_id=survivor))
    _merge_stage(session, loser=loser, survivor=survivor)
    hist = t.STAGE_HISTORY.c
    session.execute(update(t.STAGE_HISTORY).where(hist.person_id == loser).values(person_id=survivor))


def _merge_stage(session: Session, *, loser: str, survivor: str) -> None:
    """Keep the further-along current stage of the two (the survivor's on a tie)."""
    st = t.PERSON_STAGES.c
    query = select(st.person_id, st.stage).where(st.person_id.in_([loser, survivor]))
    rows: dict[str, str] = dict(session.execute(query).all())
    if loser not in rows:
        return
    if survivor in rows and ladder_rank(Stage(rows[survivor])) >= ladder_rank(Stage(rows[loser])):
        session.execute(delete(t.PERSON_STAGES).where(st.person_id == loser))
        return
    session.execute(delete(t.PERSON_STAGES).where(st.person_id == survivor))
    session.execute(update(t.PERSON_STAGES).where(st.person_id == loser).values(person_id=survivor))
