"""Batch endpoints: exact status codes, the 100-input cap, 207 partial errors, upsert by email."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from hubspot.crm.objects.tasks import ApiException

from tests.fixtures_hubspot import HubSpotSandbox

AUTH = {"Authorization": "Bearer pat-sandbox"}


def _post(sandbox: HubSpotSandbox, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{sandbox.url}/crm/v3/objects/{path}", json=body, headers=AUTH, timeout=10)


def _first_ids(sandbox: HubSpotSandbox, kind: str, n: int) -> list[str]:
    return [str(i) for i in sorted(sandbox.app.store.records[kind])[:n]]


@pytest.mark.parametrize(
    ("op", "body", "status"),
    [
        ("create", {"inputs": [{"properties": {"email": "b1@x.example"}}]}, 201),
        ("read", {"inputs": [{"id": "IDS"}], "properties": ["email"], "propertiesWithHistory": []}, 200),
        ("update", {"inputs": [{"id": "IDS", "properties": {"jobtitle": "CTO"}}]}, 200),
        (
            "upsert",
            {"inputs": [{"id": "u@x.example", "idProperty": "email", "properties": {"firstname": "U"}}]},
            200,
        ),
        ("archive", {"inputs": [{"id": "IDS"}]}, 204),
    ],
)
def test_status_codes(hubspot_sandbox: HubSpotSandbox, op: str, body: dict[str, Any], status: int) -> None:
    for item in body["inputs"]:
        if item.get("id") == "IDS":
            item["id"] = _first_ids(hubspot_sandbox, "contacts", 1)[0]
    resp = _post(hubspot_sandbox, f"contacts/batch/{op}", body)
    assert resp.status_code == status
    if status != 204:
        assert resp.json()["status"] == "COMPLETE"
        assert len(resp.json()["results"]) == 1


@pytest.mark.parametrize("op", ["read", "create", "update", "upsert", "archive"])
def test_more_than_100_inputs_is_a_400(hubspot_sandbox: HubSpotSandbox, op: str) -> None:
    inputs = [{"id": str(i), "properties": {"email": f"{i}@x.example"}} for i in range(101)]
    resp = _post(hubspot_sandbox, f"contacts/batch/{op}", {"inputs": inputs})
    assert resp.status_code == 400
    assert resp.json()["category"] == "VALIDATION_ERROR"
    assert _post(hubspot_sandbox, f"contacts/batch/{op}", {"inputs": inputs[:100]}).status_code < 400


@pytest.mark.parametrize("op", ["read", "update"])
def test_missing_ids_give_207_with_errors(hubspot_sandbox: HubSpotSandbox, op: str) -> None:
    client = hubspot_sandbox.client()
    known = _first_ids(hubspot_sandbox, "deals", 2)
    inputs = [{"id": i, "properties": {"dealname": "x"}} for i in [*known, "999999"]]
    api = client.crm.deals.batch_api
    if op == "read":
        result = api.read(
            batch_read_input_simple_public_object_id={
                "inputs": inputs,
                "properties": ["dealname"],
                "propertiesWithHistory": [],
            }
        )
    else:
        result = api.update(batch_input_simple_public_object_batch_input={"inputs": inputs})
    assert result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context == {"ids": ["999999"]}
    assert sorted(r.id for r in result.results) == known


def test_batch_create_is_all_or_nothing_on_validation(hubspot_sandbox: HubSpotSandbox) -> None:
    before = len(hubspot_sandbox.app.store.records["tasks"])
    inputs = [
        {"properties": {"hs_timestamp": "2026-11-02T00:00:00Z"}},
        {"properties": {"hs_task_subject": "no due"}},
    ]
    with pytest.raises(ApiException) as err:
        hubspot_sandbox.client().crm.objects.tasks.batch_api.create({"inputs": inputs})
    assert err.value.status == 400
    assert "hs_timestamp" in err.value.body
    assert len(hubspot_sandbox.app.store.records["tasks"]) == before


def test_upsert_creates_then_updates_by_email(hubspot_sandbox: HubSpotSandbox) -> None:
    api = hubspot_sandbox.client().crm.contacts.batch_api
    body: dict[str, Any] = {
        "inputs": [{"id": "up@x.example", "idProperty": "email", "properties": {"firstname": "A"}}]
    }
    first = api.upsert(batch_input_simple_public_object_batch_input_upsert=body)
    body["inputs"][0]["properties"]["firstname"] = "B"
    second = api.upsert(batch_input_simple_public_object_batch_input_upsert=body)
    assert first.results[0].new is True
    assert second.results[0].new is False
    assert first.results[0].id == second.results[0].id
    assert second.results[0].properties["firstname"] == "B"
