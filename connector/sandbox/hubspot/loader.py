"""Turn a seeded `World` into HubSpot records (contacts, deals, tasks) and their associations."""

from __future__ import annotations

from datetime import datetime

from connector.sandbox.hubspot.schema import CREATED_PROP, MODIFIED_PROP, iso
from connector.sandbox.hubspot.store import Props, Record, Store
from connector.sandbox.world import World

COUNTRY_BY_REGION = {"NA": "United States", "EMEA": "Germany", "APAC": "Singapore", "JP": "Japan"}


def owner_id(owner_key: str | None) -> str | None:
    """HubSpot owner ids are numeric strings; derive one stably from the seed key ("own-03")."""
    return None if owner_key is None else str(70_000_000 + int(owner_key.rsplit("-", 1)[1]))


def _put(store: Store, key: str, kind: str, props: Props, *, created: datetime, updated: datetime) -> Record:
    rid = store.next_id
    store.next_id += 1
    props[CREATED_PROP[kind]] = iso(created)
    props[MODIFIED_PROP[kind]] = iso(updated)
    props["hs_object_id"] = str(rid)
    rec = Record(rid, kind, props, created, updated)
    store.records[kind][rid] = rec
    store.keys[key] = rid
    store._index(rec)
    return rec


def load(store: Store, world: World) -> None:
    """Bulk-load without validation: seeded dirt (unknown stages, "n/a" scores) must survive."""
    companies = {c.key: c for c in world.companies}
    for p in world.people:
        if not p.in_hubspot:
            continue
        modified = p.modified_at or p.created_at
        props: Props = {
            "email": p.email,
            "firstname": p.first_name,
            "lastname": p.last_name,
            "jobtitle": p.title,
            "company": companies[p.company_key].name,
            "numemployees": str(companies[p.company_key].employees),
            "country": COUNTRY_BY_REGION[companies[p.company_key].region],
            "lifecyclestage": p.lifecyclestage,
            "hs_lead_status": p.hs_lead_status,
            "hubspotscore": p.lead_score,
            "hubspot_owner_id": owner_id(p.owner_key),
            "notes_last_contacted": iso(p.last_contacted_at) if p.last_contacted_at else None,
        }
        if p.lifecyclestage:
            props[f"hs_v2_date_entered_{p.lifecyclestage}"] = iso(
                p.created_at + (modified - p.created_at) / 2
            )
        _put(store, p.key, "contacts", props, created=p.created_at, updated=modified)
    for d in world.deals:
        if not d.in_hubspot or d.person_key not in store.keys:
            continue
        modified = d.modified_at or d.created_at
        props = {
            "dealname": d.name,
            "amount": f"{d.amount:.2f}",
            "dealstage": d.hs_dealstage,
            "pipeline": "default",
            "closedate": iso(d.close_date),
            "hubspot_owner_id": owner_id(d.owner_key),
            f"hs_v2_date_entered_{d.hs_dealstage}": iso(d.created_at),
        }
        rec = _put(store, d.key, "deals", props, created=d.created_at, updated=modified)
        store.associate("deals", rec.id, "contacts", store.keys[d.person_key])
    for t in world.tasks:
        if t.crm != "hubspot" or t.person_key not in store.keys:
            continue
        props = {
            "hs_timestamp": iso(t.due),
            "hs_task_subject": t.subject,
            "hs_task_status": t.status,
            "hs_task_priority": t.priority,
            "hs_task_type": "TODO",
            "hubspot_owner_id": owner_id(t.owner_key),
        }
        rec = _put(store, t.key, "tasks", props, created=world.now, updated=world.now)
        store.associate("tasks", rec.id, "contacts", store.keys[t.person_key])
        if t.deal_key in store.keys:
            store.associate("tasks", rec.id, "deals", store.keys[t.deal_key or ""])
