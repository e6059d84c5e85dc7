"""TLS, OAuth, session expiry, API limits and admin-driven lead conversion, over real HTTPS."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceRefusedRequest

from tests.fixtures_salesforce import CLIENT_ID, SalesforceSandbox, error_list, small_world, start_salesforce


def test_untrusting_session_fails_trusting_one_works(salesforce_handmade: SalesforceSandbox) -> None:
    untrusting = requests.Session()
    untrusting.trust_env = False  # system CA bundle only: the sandbox CA is not in it
    with pytest.raises(requests.exceptions.SSLError):
        untrusting.get(f"{salesforce_handmade.url}/services/data/v59.0/limits", timeout=5)
    assert salesforce_handmade.client().query("SELECT COUNT() FROM Lead")["totalSize"] == 9


def test_stalled_handshake_does_not_block_others(salesforce_handmade: SalesforceSandbox) -> None:
    host, port = salesforce_handmade.url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port))) as idle:  # connects, never says hello
        idle.settimeout(5)
        sf = salesforce_handmade.client()
        assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 4


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"},
            "invalid_client",
        ),
        ({"grant_type": "authorization_code", "client_id": CLIENT_ID}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
    ],
)
def test_token_endpoint_errors(
    salesforce_handmade: SalesforceSandbox, form: dict[str, str], error: str
) -> None:
    resp = salesforce_handmade.session().post(f"{salesforce_handmade.url}/services/oauth2/token", data=form)
    assert resp.status_code == 400
    assert resp.json()["error"] == error
    assert "wrong" not in resp.text


def test_password_grant_then_refresh(salesforce_handmade: SalesforceSandbox) -> None:
    session = salesforce_handmade.session()
    url = f"{salesforce_handmade.url}/services/oauth2/token"
    form = {"client_id": CLIENT_ID, "client_secret": "sandbox-secret"}
    first = session.post(
        url, data={**form, "grant_type": "password", "username": "u", "password": "p"}
    ).json()
    assert first["token_type"] == "Bearer"
    assert first["instance_url"] == salesforce_handmade.url
    again = session.post(
        url, data={**form, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert again.status_code == 200
    sf = Salesforce(
        instance_url=first["instance_url"], session_id=again.json()["access_token"], session=session
    )
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 4


def test_expired_session_is_401(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    sf.query("SELECT COUNT() FROM Lead")
    salesforce_handmade.admin("POST", "tokens/expire")
    with pytest.raises(SalesforceExpiredSession) as err:
        sf.query("SELECT COUNT() FROM Lead")
    assert err.value.status == 401
    assert error_list(err.value) == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert salesforce_handmade.client().query("SELECT COUNT() FROM Lead")["totalSize"] == 9


@pytest.fixture
def tight_sandbox(tmp_path: Path) -> Iterator[SalesforceSandbox]:
    sandbox = start_salesforce(tmp_path, small_world(), daily_limit=5)
    try:
        yield sandbox
    finally:
        sandbox.server.stop()


def test_limit_info_and_request_limit_exceeded(tight_sandbox: SalesforceSandbox) -> None:
    sf = tight_sandbox.client()
    for used in range(1, 5):
        sf.query("SELECT COUNT() FROM Lead")
        assert (sf.api_usage["api-usage"].used, sf.api_usage["api-usage"].total) == (used, 5)
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 5, "Remaining": 0}
    with pytest.raises(SalesforceRefusedRequest) as err:
        sf.query("SELECT COUNT() FROM Lead")
    assert err.value.status == 403
    assert error_list(err.value)[0] == {
        "message": "TotalRequests Limit exceeded.",
        "errorCode": "REQUEST_LIMIT_EXCEEDED",
    }


def test_lead_conversion_via_admin_api(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    lead_id = salesforce_handmade.admin("GET", "ids")["p-000001"]
    before = sf.Lead.get(lead_id)["SystemModstamp"]
    (made,) = salesforce_handmade.admin("POST", "activity", [{"action": "convert_lead", "id": lead_id}])
    lead = sf.query(
        "SELECT IsConverted, Status, ConvertedContactId, ConvertedAccountId, ConvertedOpportunityId, "
        f"ConvertedDate, SystemModstamp FROM Lead WHERE Id = '{lead_id}'"
    )["records"][0]
    assert lead["IsConverted"] is True
    assert lead["Status"] == "Closed - Converted"
    assert lead["ConvertedContactId"] == made["contact_id"]
    assert lead["ConvertedOpportunityId"] == made["opportunity_id"]
    assert lead["SystemModstamp"] > before
    contact = sf.Contact.get(made["contact_id"])
    assert (contact["LastName"], contact["AccountId"]) == ("Last1", made["account_id"])
    opp = sf.Opportunity.get(made["opportunity_id"])
    assert opp["ContactId__c"] == made["contact_id"]
    salesforce_handmade.admin(
        "POST", "activity", [{"action": "win_opportunity", "id": made["opportunity_id"]}]
    )
    won = sf.query(f"SELECT IsWon, IsClosed FROM Opportunity WHERE Id = '{made['opportunity_id']}'")[
        "records"
    ][0]
    assert (won["IsWon"], won["IsClosed"]) == (True, True)


def test_admin_activity_is_all_or_nothing(salesforce_handmade: SalesforceSandbox) -> None:
    sf = salesforce_handmade.client()
    lead_id = salesforce_handmade.admin("GET", "ids")["p-000002"]
    resp = salesforce_handmade.session().post(
        f"{salesforce_handmade.url}/__sandbox/activity",
        json=[
            {"action": "set_lead_status", "id": lead_id, "status": "Working - Contacted"},
            {"action": "explode"},
        ],
    )
    assert resp.status_code == 400
    assert "explode" in resp.json()[0]["message"]
    assert sf.Lead.get(lead_id)["Status"] == "Closed - Not Converted"


def test_concurrent_clients_see_consistent_counts(salesforce_handmade: SalesforceSandbox) -> None:
    """Eight clients read while one writes: every count is a whole state, never a half-applied write."""
    writer = salesforce_handmade.client()
    records = [{"attributes": {"type": "Lead"}, "LastName": f"C{i}", "Company": "Acme"} for i in range(50)]

    def write() -> None:
        for _ in range(5):
            writer.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})

    def read(_: int) -> set[int]:
        sf = salesforce_handmade.client()
        return {sf.query("SELECT COUNT() FROM Lead")["totalSize"] for _ in range(10)}

    with ThreadPoolExecutor(9) as pool:
        done = pool.submit(write)
        seen = set().union(*pool.map(read, range(8)))
        done.result()
    assert seen <= {9 + 50 * k for k in range(6)}
    assert writer.query("SELECT COUNT() FROM Lead")["totalSize"] == 259
