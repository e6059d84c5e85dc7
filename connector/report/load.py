"""Build the report's facts from the mirror (read-only).

- stage entries and recycles: `stage_history` (a `recycled` entry's rule is the recycle rule);
- first Inside Sales contact: the first mirrored version whose lead status is a working value
  (HubSpot `hs_lead_status`, Salesforce `Lead.Status`), or the person's SAL entry;
- deals: current HubSpot deals and Salesforce Opportunities, phase and won/lost through the
  mapping's deal value maps; closed at the first mirrored version that showed won/lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from connector.mirror import funnel_entries
from connector.mirror import tables as t
from connector.mirror.records import history, of_records
from connector.model import Crm, Stage
from connector.report.facts import DealFact, FirstContact, FunnelFacts, RecycleEntry, StageEntry
from connector.rules.compiled import Mapping

# (crm, person object type) -> (status property, values meaning "Inside Sales is working this person")
CONTACTED: dict[tuple[Crm, str], tuple[str, frozenset[str]]] = {
    (Crm.HUBSPOT, "contacts"): (
        "hs_lead_status",
        frozenset({"ATTEMPTED_TO_CONTACT", "CONNECTED", "IN_PROGRESS"}),
    ),
    (Crm.SALESFORCE, "Lead"): ("Status", frozenset({"Working - Contacted"})),
}
# crm -> (amount property, created property)
DEAL_FIELDS: dict[Crm, tuple[str, str]] = {
    Crm.HUBSPOT: ("amount", "createdate"),
    Crm.SALESFORCE: ("Amount", "CreatedDate"),
}


def _when(raw: str | None) -> datetime | None:
    """A CRM timestamp (`...Z`, `...+0000`, epoch ms or a date) as aware UTC; None when unreadable."""
    if not raw:
        return None
    try:
        if raw.isdigit():
            return datetime.fromtimestamp(int(raw) / 1000, UTC)
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw not in {None, ""} else None
    except (TypeError, ValueError):
        return None


def _earliest(
    rows: Iterable[tuple[str, int, str, Any]], shows: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """record id -> the value carried by its lowest-numbered version whose properties `shows`.

    The history is a UNION ALL (superseded versions, then current rows): no order is assumed, and
    sorting it in SQL would spill every version's properties into a temporary b-tree."""
    found: dict[str, tuple[int, Any]] = {}
    for record_id, version_no, props, value in rows:
        seen = found.get(record_id)
        if (seen is None or version_no < seen[0]) and shows(json.loads(props)):
            found[record_id] = (version_no, value)
    return {record_id: value for record_id, (_, value) in found.items()}


def _shows_working(prop: str, working: frozenset[str]) -> Callable[[dict[str, Any]], bool]:
    return lambda props: props.get(prop) in working


def _contacts(s: Session, entries: list[StageEntry]) -> list[FirstContact]:
    ids = t.IDENTITIES.c
    first: list[FirstContact] = []
    for (crm, object_type), (prop, working) in CONTACTED.items():
        v = history(of_records(crm.value, object_type)).c
        stmt = select(v.record_id, v.version_no, v.properties, v.modified_at, ids.person_id).join(
            t.IDENTITIES,
            and_(ids.crm == v.crm, ids.object_type == v.object_type, ids.record_id == v.record_id),
        )
        rows = ((r, n, p, (at, pid)) for r, n, p, at, pid in s.connection().execute(stmt))
        earliest = _earliest(rows, _shows_working(prop, working))
        first.extend(FirstContact(person_id, modified_at) for modified_at, person_id in earliest.values())
    sal = [FirstContact(e.person_id, e.entered_at) for e in entries if e.stage is Stage.SAL]
    return [*first, *sal]


def _deal_rows(
    s: Session, crm: Crm, object_type: str
) -> Iterator[tuple[str, dict[str, Any], datetime, str | None]]:
    r, links, ids = t.RECORDS.c, t.LINKS.c, t.IDENTITIES.c
    person = (
        select(ids.person_id)
        .join(
            t.LINKS,
            and_(links.crm == ids.crm, links.to_type == ids.object_type, links.to_id == ids.record_id),
        )
        .where(links.crm == r.crm, links.object_type == r.object_type, links.record_id == r.record_id)
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(r.record_id, r.properties, r.first_seen, person).where(
        r.crm == crm.value, r.object_type == object_type, r.deleted.is_(False), r.archived.is_(False)
    )
    for record_id, props, first_seen, person_id in s.connection().execute(stmt):
        yield record_id, json.loads(props), first_seen, person_id


def _closed_at(s: Session, crm: Crm, object_type: str, mapping: Mapping) -> dict[str, datetime]:
    """record id -> modified time of the first mirrored version that showed won or lost."""
    spec = mapping.deals[crm]
    v = history(of_records(crm.value, object_type)).c
    stmt = select(v.record_id, v.version_no, v.properties, v.modified_at)
    return _earliest(s.connection().execute(stmt), lambda props: spec.phase_of(props) in {"won", "lost"})


def _deals(s: Session, mapping: Mapping) -> list[DealFact]:
    deals: list[DealFact] = []
    for crm, spec in mapping.deals.items():
        amount_prop, created_prop = DEAL_FIELDS[crm]
        closed = _closed_at(s, crm, spec.object_type, mapping)
        for record_id, props, first_seen, person_id in _deal_rows(s, crm, spec.object_type):
            phase = spec.phase_of(props)
            won = {"won": True, "lost": False}.get(str(phase))
            closed_at = (
                closed.get(record_id) or _when(props.get(spec.close_date_property))
                if won is not None
                else None
            )
            deals.append(
                DealFact(
                    deal_id=f"{crm.value}:{record_id}",
                    person_id=person_id,
                    phase=phase if isinstance(phase, int) else None,
                    amount=_number(props.get(amount_prop)),
                    created_at=_when(props.get(created_prop)) or first_seen,
                    closed_at=closed_at,
                    won=won,
                )
            )
    return deals


def load_facts(s: Session, mapping: Mapping) -> FunnelFacts:
    """Every fact the report needs; the full history, since cohorts look back before the window."""
    entries = [StageEntry(e.person_id, e.stage, e.entered_at, e.rule_id) for e in funnel_entries(s)]
    recycles = [
        RecycleEntry(e.person_id, e.rule_id or "unknown", e.entered_at)
        for e in entries
        if e.stage is Stage.RECYCLED
    ]
    return FunnelFacts(
        tuple(entries), tuple(_contacts(s, entries)), tuple(_deals(s, mapping)), tuple(recycles)
    )
