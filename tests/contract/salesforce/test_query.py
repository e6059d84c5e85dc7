"""SOQL over HTTPS through the unmodified simple-salesforce client: filters, paging, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.fixtures_salesforce import SalesforceSandbox, bulk_world, error_list, start_salesforce

LEADS = {1, 2, 3, 4, 5, 6, 7, 8, 13}
FILTERS = [
    ("Status = 'Working - Contacted'", {1, 5}),
    ("Status != 'Open - Not Contacted'", {1, 2, 5, 6}),
    ("Status <> 'Open - Not Contacted'", {1, 2, 5, 6}),
    ("Status IN ('Working - Contacted', 'Closed - Not Converted')", {1, 2, 5, 6}),
    ("Status NOT IN ('Open - Not Contacted')", {1, 2, 5, 6}),
    ("Title = 'vp sales'", {1, 3, 5, 7, 13}),
    ("LastName = 'O\\'Brien'", {13}),
    ("LastName LIKE 'O\\'%'", {13}),
    ("LastName LIKE 'Last_'", {1, 2, 3, 4, 5, 6, 7, 8}),
    ("LastName LIKE 'last1%'", {1}),
    ("LastName LIKE 'Last\\%'", set()),
    ("Email LIKE '%example1.com'", {1, 4, 7}),
    ("Email = null", {8}),
    ("Email != null", LEADS - {8}),
    ("CreatedDate >= 2026-10-08T12:00:00Z", {6, 7, 8, 13}),
    ("CreatedDate < 2026-10-04T14:00:00+02:00", {1}),
    ("SystemModstamp > 2026-10-08T12:00:00.000Z", {7, 8, 13}),
    ("(Status = 'Working - Contacted' OR Title = 'Engineer') AND NOT LastName = 'Last2'", {1, 4, 5, 6, 8}),
    ("NOT (Status = 'Open - Not Contacted' OR Status = 'Working - Contacted')", {2, 6}),
    ("IsConverted = false AND Budget_Confirmed__c = FALSE", LEADS),
    ("Lead_Score__c IN ('10', '20')", {1, 2}),
]


@pytest.fixture
def sf_ids(salesforce_handmade: SalesforceSandbox) -> dict[str, str]:
    return dict(salesforce_handmade.admin("GET", "ids"))


@pytest.mark.parametrize(("where", "expected"), FILTERS)
def test_soql_filters(
    salesforce_handmade: SalesforceSandbox, sf_ids: dict[str, str], where: str, expected: set[int]
) -> None:
    result = salesforce_handmade.client().query(f"SELECT Id, LastName FROM Lead WHERE {where}")
    got = {r["Id"] for r in result["records"]}
    assert got == {sf_ids[f"p-{i:06d}"] for i in expected}
    assert result["totalSize"] == len(expected)
    assert all(r["attributes"]["type"] == "Lead" for r in result["records"])


def test_order_by_nulls_and_limit(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    rows = sf.query("SELECT LastName, Email FROM Lead ORDER BY Email DESC NULLS LAST, LastName ASC LIMIT 9")
    emails = [r["Email"] for r in rows["records"]]
    assert emails[-1] is None
    assert emails[:-1] == sorted(emails[:-1], key=str.lower, reverse=True)
    first = sf.query("SELECT LastName FROM Lead ORDER BY Email NULLS FIRST, LastName LIMIT 2")
    assert [r["LastName"] for r in first["records"]] == ["Last8", "O'Brien"]


def test_count_and_record_shape(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 4
    rec = sf.query("SELECT Id, SystemModstamp, IsWon, Amount FROM Opportunity WHERE StageName = 'Closed Won'")
    (opp,) = rec["records"]
    assert opp["IsWon"] is True
    assert opp["Amount"] == 3000.0
    assert len(opp["Id"]) == 18
    assert opp["Id"].startswith("006")
    assert opp["SystemModstamp"].endswith(".000+0000")
    assert opp["attributes"]["url"] == f"/services/data/v59.0/sobjects/Opportunity/{opp['Id']}"


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id FROM Lead WHERE Status = 'x' AND Title = 'y' OR Title = 'z'", "MALFORMED_QUERY", "OR"),
        ("SELECT Id FROM Lead WHERE LastName = 'x'; DELETE", "MALFORMED_QUERY", "unexpected"),
        ("SELECT Bogus__c FROM Lead", "INVALID_FIELD", "No such column 'Bogus__c' on entity 'Lead'"),
        ("SELECT Id FROM Lead WHERE CreatedDate > '2024-01-01'", "INVALID_FIELD", "CreatedDate"),
        ("SELECT Id FROM Widget", "INVALID_TYPE", "Widget"),
    ],
)
def test_query_errors(salesforce_handmade: SalesforceSandbox, soql: str, code: str, fragment: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        salesforce_handmade.client().query(soql)
    assert err.value.status == 400
    assert error_list(err.value)[0]["errorCode"] == code
    assert fragment in error_list(err.value)[0]["message"]


@pytest.fixture(scope="module")
def big_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalesforceSandbox]:
    sandbox = start_salesforce(Path(tmp_path_factory.mktemp("sf-big")), bulk_world(4500))
    try:
        yield sandbox
    finally:
        sandbox.server.stop()


def test_query_all_follows_next_records_url(big_sandbox: SalesforceSandbox) -> None:
    sf = big_sandbox.client()
    big_sandbox.admin("DELETE", "ledger")
    result = sf.query_all("SELECT Id FROM Lead")
    assert result["totalSize"] == 4500
    assert len({r["Id"] for r in result["records"]}) == 4500
    pages = [e for e in big_sandbox.admin("GET", "ledger") if "/query" in e["path"]]
    assert [e["records_out"] for e in pages] == [2000, 2000, 500]
    assert pages[1]["path"].startswith("/services/data/v59.0/query/01g")


@pytest.mark.parametrize(
    ("header", "first_page"), [("batchSize=500", 500), ("batchSize=50", 200), ("", 2000)]
)
def test_batch_size_header(big_sandbox: SalesforceSandbox, header: str, first_page: int) -> None:
    sf = big_sandbox.client()
    headers = {"Sforce-Query-Options": header} if header else {}
    page = sf.query("SELECT Id FROM Lead ORDER BY Id", headers=headers)
    assert len(page["records"]) == first_page
    assert page["done"] is False
    nxt = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert nxt["records"][0]["Id"] > page["records"][-1]["Id"]
    assert page["nextRecordsUrl"].endswith(f"-{first_page}")
