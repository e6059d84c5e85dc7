"""Writes through simple-salesforce: CRUD, collections with allOrNone, external-ID upsert, replication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.fixtures_salesforce import SalesforceSandbox, error_list


def _lead(last: str, **extra: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": last, "Company": "Acme", **extra}


def test_crud_and_soft_delete(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    created = sf.Lead.create({"LastName": "Crud", "Company": "Acme", "Status": "Working - Contacted"})
    assert created["success"] is True
    assert created["id"].startswith("00Q")
    before = sf.Lead.get(created["id"])
    assert sf.Lead.update(created["id"], {"Title": "CFO"}) == 204
    after = sf.Lead.get(created["id"])
    assert after["Title"] == "CFO"
    assert after["SystemModstamp"] >= before["SystemModstamp"]
    assert sf.Lead.delete(created["id"]) == 204
    soql = f"SELECT Id, IsDeleted FROM Lead WHERE Id = '{created['id']}'"
    assert sf.query(soql)["totalSize"] == 0
    (gone,) = sf.query_all(soql, include_deleted=True)["records"]
    assert gone["IsDeleted"] is True
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get(created["id"])


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"Company": "Acme"}, "REQUIRED_FIELD_MISSING"),
        ({"LastName": "X", "Company": "Acme", "Status": "Hot Prospect"}, "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        ({"LastName": "X", "Company": "Acme", "Nope__c": 1}, "INVALID_FIELD"),
        ({"LastName": "X", "Company": "Acme", "IsConverted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ],
)
def test_create_validation(salesforce_handmade: SalesforceSandbox, record: dict[str, Any], code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        salesforce_handmade.client().Lead.create(record)
    assert error_list(err.value)[0]["errorCode"] == code


def test_collection_partial_failure(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    ids = salesforce_handmade.admin("GET", "ids")
    deleted = sf.Lead.create({"LastName": "Gone", "Company": "Acme"})["id"]
    sf.Lead.delete(deleted)
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Lead"}, "Id": ids["p-000001"], "Title": "Head of RevOps"},
            {"attributes": {"type": "Contact"}, "Id": ids["p-000009"], "AccountId": "0015g0000000zzzAAA"},
            {"attributes": {"type": "Lead"}, "Id": deleted, "Title": "x"},
            {"attributes": {"type": "Lead"}, "Id": ids["p-000002"], "Status": "Nope"},
        ],
    }
    results = sf.restful("composite/sobjects", method="PATCH", json=body)
    assert [r["success"] for r in results] == [True, False, False, False]
    codes = [r["errors"][0]["statusCode"] for r in results[1:]]
    assert codes == ["INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED", "FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    assert sf.Lead.get(ids["p-000001"])["Title"] == "Head of RevOps"


def test_collection_all_or_none_rolls_back(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    ids = salesforce_handmade.admin("GET", "ids")
    before = sf.query("SELECT COUNT() FROM Lead")["totalSize"]
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": True, "records": [_lead("Rolled"), _lead("Bad", Status="Nope")]},
    )
    assert [r["errors"][0]["statusCode"] for r in created] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    ]
    assert "id" not in created[0]
    updates = [
        {"attributes": {"type": "Lead"}, "Id": ids["p-000001"], "Title": "Changed"},
        {"attributes": {"type": "Lead"}, "Id": ids["p-000002"], "Status": "Nope"},
    ]
    updated = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": updates})
    assert updated[0]["id"] == ids["p-000001"]
    assert updated[0]["success"] is False
    assert updated[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == before
    assert sf.Lead.get(ids["p-000001"])["Title"] != "Changed"


def test_collection_over_200_is_refused(salesforce_handmade: SalesforceSandbox) -> None:
    with pytest.raises(SalesforceMalformedRequest):
        salesforce_handmade.client().restful(
            "composite/sobjects", method="POST", json={"records": [_lead(f"L{i}") for i in range(201)]}
        )


def test_external_id_upsert_is_idempotent(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    who = salesforce_handmade.admin("GET", "ids")["p-000009"]
    task = {"Subject": "Follow up", "WhoId": who, "Status": "Not Started"}
    assert sf.Task.upsert("Revops_Key__c/rk-1", task) == 201
    assert sf.Task.upsert("Revops_Key__c/rk-1", {**task, "Status": "Completed"}) == 200
    rows = sf.query("SELECT Id, Status, IsClosed FROM Task WHERE Revops_Key__c = 'rk-1'")["records"]
    assert len(rows) == 1
    assert rows[0]["IsClosed"] is True
    records = [{"attributes": {"type": "Task"}, "Revops_Key__c": k, "Subject": "s"} for k in ("rk-1", "rk-2")]
    for created in ([False, True], [False, False]):
        results = sf.restful(
            "composite/sobjects/Task/Revops_Key__c", method="PATCH", json={"records": records}
        )
        assert [r["created"] for r in results] == created
    assert sf.query("SELECT COUNT() FROM Task WHERE Revops_Key__c LIKE 'rk-%'")["totalSize"] == 2


def test_updated_and_deleted_endpoints(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    start = datetime.now(UTC) - timedelta(seconds=1)
    lead = sf.Lead.create({"LastName": "Repl", "Company": "Acme"})["id"]
    gone = sf.Lead.create({"LastName": "Repl2", "Company": "Acme"})["id"]
    sf.Lead.delete(gone)
    end = datetime.now(UTC) + timedelta(seconds=1)
    updated = sf.Lead.updated(start, end)
    assert updated["ids"] == [lead]
    assert updated["latestDateCovered"].endswith("+0000")
    deleted = sf.Lead.deleted(start, end)
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}


def test_collection_delete(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    ids = salesforce_handmade.admin("GET", "ids")
    doomed = f"{ids['p-000001']},{ids['d-00001']},00Q5g00000zzzzzAAA"
    results = sf.restful("composite/sobjects", method="DELETE", params={"ids": doomed, "allOrNone": "false"})
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert sf.query(f"SELECT COUNT() FROM Lead WHERE Id = '{ids['p-000001']}'")["totalSize"] == 0
    again = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ids["p-000002"] + ",bogus", "allOrNone": "true"}
    )
    assert again[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.query(f"SELECT COUNT() FROM Lead WHERE Id = '{ids['p-000002']}'")["totalSize"] == 1
