"""Admin-driven "user activity" in the org: what sales reps do in the UI, including lead conversion.

Conversion has no REST sObject endpoint (it is SOAP `convertLead()` / Apex), so tests drive it
here. It does what Salesforce does: creates a Contact (and an Account, and optionally an
Opportunity), then marks the Lead converted and points it at them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .describe import STAGES
from .store import RecordError, Store, now_ms

Action = Callable[[Store, dict[str, Any]], dict[str, Any]]


def _convert(store: Store, a: dict[str, Any]) -> dict[str, Any]:
    lead = store.get("Lead", a["id"])
    if lead["IsDeleted"] or lead["IsConverted"]:
        raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", f"lead {a['id']} cannot be converted")
    account_id = a.get("account_id") or store.create(
        "Account", {"Name": lead["Company"], "OwnerId": lead["OwnerId"]}, system=True
    )
    person = (
        "FirstName",
        "LastName",
        "Email",
        "Title",
        "LeadSource",
        "Lead_Score__c",
        "Lifecycle_Stage__c",
        "Budget_Confirmed__c",
        "Authority_Confirmed__c",
        "Need_Confirmed__c",
        "Timeline_Confirmed__c",
        "OwnerId",
    )
    contact_id = a.get("contact_id") or store.create(
        "Contact", {**{k: lead[k] for k in person}, "AccountId": account_id}, system=True
    )
    opportunity_id = None
    if a.get("create_opportunity", True):
        opportunity_id = store.create(
            "Opportunity",
            {
                "Name": a.get("opportunity_name") or f"{lead['Company']}-",
                "StageName": a.get("stage", "Prospecting"),
                "CloseDate": a.get("close_date") or now_ms().date().isoformat(),
                "AccountId": account_id,
                "ContactId__c": contact_id,
                "OwnerId": lead["OwnerId"],
            },
            system=True,
        )
    store.update(
        "Lead",
        str(lead["Id"]),
        {
            "IsConverted": True,
            "Status": "Closed - Converted",
            "ConvertedDate": now_ms().date().isoformat(),
            "ConvertedContactId": contact_id,
            "ConvertedAccountId": account_id,
            "ConvertedOpportunityId": opportunity_id,
        },
        system=True,
    )
    return {"contact_id": contact_id, "account_id": account_id, "opportunity_id": opportunity_id}


def _edit(store: Store, a: dict[str, Any]) -> dict[str, Any]:
    store.update(a["type"], a["id"], a["fields"], system=True)
    return {}


def _status(store: Store, a: dict[str, Any]) -> dict[str, Any]:
    store.update("Lead", a["id"], {"Status": a["status"]})
    return {}


def _close(won: bool) -> Action:
    def run(store: Store, a: dict[str, Any]) -> dict[str, Any]:
        stage = next(s.name for s in STAGES.values() if s.closed and s.won == won)
        store.update("Opportunity", a["id"], {"StageName": stage})
        return {}

    return run


def _delete(store: Store, a: dict[str, Any]) -> dict[str, Any]:
    store.delete(a["type"], a["id"])
    return {}


def _create(sobject: str) -> Action:
    def run(store: Store, a: dict[str, Any]) -> dict[str, Any]:
        return {"id": store.create(sobject, a["fields"], system=True)}

    return run


ACTIONS: dict[str, Action] = {
    "convert_lead": _convert,
    "edit": _edit,
    "set_lead_status": _status,
    "win_opportunity": _close(won=True),
    "lose_opportunity": _close(won=False),
    "delete": _delete,
    "create_lead": _create("Lead"),
    "create": lambda store, a: _create(a["type"])(store, a),
}


def _action(name: str, index: int) -> Action:
    if name not in ACTIONS:
        raise RecordError("INVALID_ACTION", f"action #{index}: unknown action {name!r}")
    return ACTIONS[name]


def run_actions(store: Store, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply every action in order, all or nothing; the result lists what each one created."""
    results: list[dict[str, Any]] = []
    store.begin()
    try:
        for i, a in enumerate(actions):
            name = a.get("action", "")
            try:
                results.append({"action": name, **_action(name, i)(store, a)})
            except KeyError as exc:
                raise RecordError("INVALID_ACTION", f"action #{i} ({name}): missing {exc}") from exc
    except RecordError:
        store.rollback()
        raise
    store.commit()
    return results
