"""Seed a Store from a World: the Salesforce view of the shared synthetic B2B data set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.sandbox.world import World

from .store import Store, to_ms

_TASK_STATUS = {"NOT_STARTED": "Not Started", "COMPLETED": "Completed"}
_TASK_PRIORITY = {"LOW": "Low", "MEDIUM": "Normal", "HIGH": "High"}


def _stamp(store: Store, sobject: str, rid: str, modified: datetime | None) -> None:
    rec = store.records[sobject][rid]
    if modified is not None:
        rec["LastModifiedDate"] = rec["SystemModstamp"] = to_ms(modified)


def load_world(store: Store, world: World) -> dict[str, str]:
    """Create Accounts, Leads/Contacts, Opportunities and Tasks; return seed key -> Salesforce Id."""
    ids: dict[str, str] = {}
    for user in world.owners:
        ids[user.key] = store.new_id("User")
        store.owners.add(ids[user.key])
    companies = {c.key: c for c in world.companies}

    def account(key: str, at: datetime) -> str:
        if key not in ids:
            co = companies[key]
            fields = {
                "Name": co.name,
                "Website": co.domain,
                "Industry": co.industry,
                "NumberOfEmployees": co.employees,
                "Region__c": co.region,
            }
            ids[key] = store.create("Account", fields, at=at, system=True)
        return ids[key]

    def owner(key: str | None) -> dict[str, Any]:
        return {"OwnerId": ids[key]} if key in ids else {}

    for p in world.people:
        if not p.in_salesforce:
            continue
        fields: dict[str, Any] = {
            "FirstName": p.first_name,
            "LastName": p.last_name,
            "Email": p.email,
            "Title": p.title,
            "Lead_Score__c": p.lead_score,
            "Budget_Confirmed__c": p.budget,
            "Authority_Confirmed__c": p.authority,
            "Need_Confirmed__c": p.need,
            "Timeline_Confirmed__c": p.timeline,
            **owner(p.owner_key),
        }
        if p.sf_object == "Lead":
            fields["Company"] = companies[p.company_key].name if p.company_key in companies else "Unknown"
            if p.sf_lead_status:
                fields["Status"] = p.sf_lead_status
        elif p.company_key in companies:
            fields["AccountId"] = account(p.company_key, p.created_at)
        ids[p.key] = store.create(p.sf_object, fields, at=p.created_at, system=True)
        _stamp(store, p.sf_object, ids[p.key], p.modified_at)
    contacts = store.records["Contact"]
    for d in world.deals:
        if not d.in_salesforce:
            continue
        fields = {
            "Name": d.name,
            "StageName": d.sf_stage,
            "CloseDate": d.close_date.date().isoformat(),
            "Amount": d.amount,
            **owner(d.owner_key),
        }
        if d.company_key in companies:
            fields["AccountId"] = account(d.company_key, d.created_at)
        if ids.get(d.person_key) in contacts:
            fields["ContactId__c"] = ids[d.person_key]
        ids[d.key] = store.create("Opportunity", fields, at=d.created_at, system=True)
        _stamp(store, "Opportunity", ids[d.key], d.modified_at)
    for t in world.tasks:
        if t.crm != "salesforce":
            continue
        fields = {
            "Subject": t.subject,
            "ActivityDate": t.due.date().isoformat(),
            "Status": _TASK_STATUS.get(t.status, "Not Started"),
            "Priority": _TASK_PRIORITY.get(t.priority, "Normal"),
            **owner(t.owner_key),
        }
        if t.person_key in ids:
            fields["WhoId"] = ids[t.person_key]
        if t.deal_key in ids:
            fields["WhatId"] = ids[str(t.deal_key)]
        ids[t.key] = store.create("Task", fields, at=min(t.due, world.now), system=True)
    return ids
