"""HubSpot write semantics: forward-only lifecycle, associations, merges, activity, faults, ledger."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from hubspot.crm.objects.exceptions import ServiceException

from tests.fixtures_hubspot import HubSpotSandbox

AUTH = {"Authorization": "Bearer pat-sandbox"}
HS = {"associationCategory": "HUBSPOT_DEFINED"}


def _contact(sandbox: HubSpotSandbox, stage: str = "marketingqualifiedlead", **extra: str) -> Any:
    api = sandbox.client().crm.contacts.basic_api
    return api.create({"properties": {"lifecyclestage": stage, **extra}})


@pytest.mark.parametrize(
    ("steps", "final"),
    [
        (["lead"], "marketingqualifiedlead"),  # backwards: silently ignored
        (["customer"], "customer"),  # forwards: applied
        (["", "lead"], "lead"),  # cleared first, in a separate request: allowed
        (["customer", "opportunity"], "customer"),
    ],
)
def test_lifecycle_only_moves_forward(hubspot_sandbox: HubSpotSandbox, steps: list[str], final: str) -> None:
    api = hubspot_sandbox.client().crm.contacts.basic_api
    rec = _contact(hubspot_sandbox)
    for stage in steps:
        updated = api.update(rec.id, {"properties": {"lifecyclestage": stage}})
    assert updated.properties["lifecyclestage"] == final
    got = api.get_by_id(rec.id, properties=["lifecyclestage", f"hs_v2_date_entered_{final}"])
    assert got.properties["lifecyclestage"] == final
    assert got.properties[f"hs_v2_date_entered_{final}"]


def test_unknown_enum_value_is_a_validation_error(hubspot_sandbox: HubSpotSandbox) -> None:
    resp = requests.patch(
        f"{hubspot_sandbox.url}/crm/v3/objects/deals/{min(hubspot_sandbox.app.store.records['deals'])}",
        json={"properties": {"dealstage": "nonsense"}},
        headers=AUTH,
        timeout=10,
    )
    assert resp.status_code == 400
    assert "INVALID_OPTION" in resp.json()["message"]


def test_inline_association_and_v4_reads(hubspot_sandbox: HubSpotSandbox) -> None:
    client = hubspot_sandbox.client()
    contact = _contact(hubspot_sandbox)
    deal = client.crm.deals.basic_api.create(
        {
            "properties": {"dealname": "D", "dealstage": "qualifiedtobuy"},
            "associations": [
                {
                    "to": {"id": contact.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                }
            ],
        }
    )
    task = client.crm.objects.tasks.basic_api.create({"properties": {"hs_timestamp": "1793491200000"}})
    client.crm.associations.v4.basic_api.create(
        "tasks",
        task.id,
        "deals",
        deal.id,
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}],
    )
    client.crm.associations.v4.basic_api.create_default("tasks", task.id, "contacts", contact.id)
    page = client.crm.associations.v4.basic_api.get_page("contacts", contact.id, "deals")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in page.results] == [(deal.id, 4)]
    batch = client.crm.associations.v4.batch_api.get_page(
        "tasks", "contacts", {"inputs": [{"id": task.id}, {"id": "424242"}]}
    )
    assert [r._from.id for r in batch.results] == [task.id]
    assert batch.results[0].to[0].association_types[0].type_id == 204
    assert batch.num_errors == 1
    listed = client.crm.contacts.basic_api.get_by_id(contact.id, associations=["deals", "tasks"])
    assert listed.associations["deals"].results[0].id == deal.id
    assert listed.associations["tasks"].results[0].type == "contact_to_task"


def test_merge_redirects_loser_to_winner(hubspot_sandbox: HubSpotSandbox) -> None:
    client = hubspot_sandbox.client()
    a, b = _contact(hubspot_sandbox, email="a@m.example"), _contact(hubspot_sandbox, jobtitle="CTO")
    merged = client.crm.contacts.basic_api.merge({"primaryObjectId": a.id, "objectIdToMerge": b.id})
    assert merged.id == a.id
    assert merged.properties["hs_merged_object_ids"] == b.id
    assert merged.properties["jobtitle"] == "CTO"  # empty winner fields take the loser's value
    assert client.crm.contacts.basic_api.get_by_id(b.id).id == a.id


def test_activity_api_simulates_people(hubspot_sandbox: HubSpotSandbox) -> None:
    deal = min(hubspot_sandbox.app.store.records["deals"])
    contact = _contact(hubspot_sandbox, stage="customer")
    actions = [
        {"action": "edit", "type": "contacts", "id": contact.id, "properties": {"lifecyclestage": "lead"}},
        {"action": "score", "id": contact.id, "score": "88"},
        {"action": "win", "id": str(deal)},
        {"action": "create", "type": "contacts", "properties": {"email": "walk-in@x.example"}},
    ]
    done = hubspot_sandbox.admin("POST", "activity", actions)["results"]
    assert [d["action"] for d in done] == ["edit", "score", "win", "create"]
    state = {r["id"]: r for r in hubspot_sandbox.admin("GET", "state/contacts")["results"]}
    assert state[contact.id]["properties"]["lifecyclestage"] == "lead"  # UI edits may go backwards
    assert state[contact.id]["properties"]["hubspotscore"] == "88"
    assert state[done[3]["id"]]["properties"]["email"] == "walk-in@x.example"
    deals = {r["id"]: r for r in hubspot_sandbox.admin("GET", "state/deals")["results"]}
    assert deals[str(deal)]["properties"]["dealstage"] == "closedwon"
    assert deals[str(deal)]["properties"]["hs_v2_date_entered_closedwon"]


def test_fault_injection_and_ledger_counts(hubspot_sandbox: HubSpotSandbox) -> None:
    hubspot_sandbox.admin("POST", "faults", {"rules": [{"path": "/batch/read", "status": 503, "limit": 1}]})
    api = hubspot_sandbox.client().crm.objects
    ids = [{"id": str(i)} for i in sorted(hubspot_sandbox.app.store.records["tasks"])[:7]]
    body = {"inputs": ids, "properties": [], "propertiesWithHistory": []}
    with pytest.raises(ServiceException):
        api.batch_api.read("tasks", batch_read_input_simple_public_object_id=body)
    assert len(api.batch_api.read("tasks", batch_read_input_simple_public_object_id=body).results) == 7
    api.basic_api.get_page("tasks", limit=5)
    ledger = hubspot_sandbox.ledger()
    assert [(e["status"], e["records_in"], e["records_out"], bool(e["fault"])) for e in ledger] == [
        (503, 0, 0, True),
        (200, 7, 7, False),
        (200, 0, 5, False),
    ]


def test_batch_create_with_inline_associations(hubspot_sandbox: HubSpotSandbox) -> None:
    contact = _contact(hubspot_sandbox)
    inputs = [
        {
            "properties": {"hs_timestamp": "2026-12-01T09:00:00.000Z", "revops_idempotency_key": f"k{i}"},
            "associations": [{"to": {"id": contact.id}, "types": [{"associationTypeId": 204, **HS}]}],
        }
        for i in range(3)
    ]
    made = hubspot_sandbox.client().crm.objects.tasks.batch_api.create({"inputs": inputs})
    linked = hubspot_sandbox.app.store.associations("contacts", int(contact.id), "tasks")
    assert sorted(linked) == sorted(int(r.id) for r in made.results)
    assert all(types == {203} for types in linked.values())


@pytest.mark.parametrize("value", ["FALSE", "False", "false"])
def test_archived_flag_is_case_insensitive(hubspot_sandbox: HubSpotSandbox, value: str) -> None:
    resp = requests.get(
        f"{hubspot_sandbox.url}/crm/v3/objects/contacts?limit=2&archived={value}", headers=AUTH, timeout=10
    )
    assert resp.status_code == 200
    assert [r["archived"] for r in resp.json()["results"]] == [False, False]
