"""Rate-limit policies and their headers, the two 401 kinds, and the OAuth refresh that cures one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest
from hubspot.crm.contacts.exceptions import UnauthorizedException

from connector.sandbox.hubspot import HubSpotLimits
from connector.sandbox.hubspot.limits import OAuthClient
from tests.fixtures_hubspot import HubSpotSandbox, SandboxFactory

SEARCH = PublicObjectSearchRequest(limit=1)


def _exhaust(call: Callable[[], object], times: int) -> dict[str, Any]:
    for _ in range(times):
        call()
    with pytest.raises(ApiException) as err:
        call()
    assert err.value.status == 429
    body: dict[str, Any] = json.loads(err.value.body)
    return body


@pytest.mark.parametrize(
    ("limits", "calls", "policy", "message"),
    [
        (
            HubSpotLimits(burst=4),
            4,
            "TEN_SECONDLY_ROLLING",
            "You have reached your ten_secondly_rolling limit.",
        ),
        (HubSpotLimits(daily=3), 3, "DAILY", None),
    ],
)
def test_burst_and_daily_policies(
    hubspot_sandbox_factory: SandboxFactory,
    limits: HubSpotLimits,
    calls: int,
    policy: str,
    message: str | None,
) -> None:
    api = hubspot_sandbox_factory(people=5, limits=limits).client().crm.contacts.basic_api
    body = _exhaust(lambda: api.get_page(limit=1), calls)
    assert body["policyName"] == policy
    assert body["errorType"] == "RATE_LIMIT"
    assert body["status"] == "error"
    assert body["correlationId"]
    if message:
        assert body["message"] == message


def test_search_secondly_message(hubspot_sandbox_factory: SandboxFactory) -> None:
    api = hubspot_sandbox_factory(people=5, limits=HubSpotLimits(search_per_second=2)).client().crm.contacts
    body = _exhaust(lambda: api.search_api.do_search(public_object_search_request=SEARCH), 2)
    assert body["message"] == "You have reached your secondly limit."
    api.basic_api.get_page(limit=1)  # the burst window is separate from the search one


def test_rate_limit_headers_on_reads_but_not_on_search(hubspot_sandbox_factory: SandboxFactory) -> None:
    api = hubspot_sandbox_factory(people=5, limits=HubSpotLimits(burst=50, daily=500)).client().crm.contacts
    _, status, headers = api.basic_api.get_page_with_http_info(limit=1)
    assert status == 200
    assert headers["X-HubSpot-RateLimit-Max"] == "50"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "49"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily"] == "500"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "499"
    _, _, search_headers = api.search_api.do_search_with_http_info(public_object_search_request=SEARCH)
    assert not [h for h in search_headers if h.lower().startswith("x-hubspot-ratelimit")]


def test_unknown_token_is_invalid_authentication(hubspot_sandbox: HubSpotSandbox) -> None:
    with pytest.raises(UnauthorizedException) as err:
        hubspot_sandbox.client("pat-wrong").crm.contacts.basic_api.get_page(limit=1)
    assert json.loads(err.value.body)["category"] == "INVALID_AUTHENTICATION"


def test_expired_token_then_refresh(hubspot_sandbox_factory: SandboxFactory) -> None:
    sandbox = hubspot_sandbox_factory(people=5)
    oauth = OAuthClient()
    form = {"grant_type": "refresh_token", "client_id": oauth.client_id, "client_secret": oauth.client_secret,
            "refresh_token": oauth.refresh_token}  # fmt: skip
    first = requests.post(f"{sandbox.url}/oauth/v1/token", data=form, timeout=10).json()
    assert first["expires_in"] == oauth.lifetime
    assert first["refresh_token"] == oauth.refresh_token
    api = sandbox.client(first["access_token"]).crm.contacts.basic_api
    assert api.get_page(limit=1).results
    sandbox.admin("POST", "tokens/expire", {"ago": 75})
    with pytest.raises(UnauthorizedException) as err:
        api.get_page(limit=1)
    body = json.loads(err.value.body)
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["message"] == "The OAuth token used to make this call expired 75 second(s) ago."
    second = requests.post(f"{sandbox.url}/oauth/v1/token", data=form, timeout=10).json()
    assert second["access_token"] != first["access_token"]
    assert sandbox.client(second["access_token"]).crm.contacts.basic_api.get_page(limit=1).results


def test_bad_refresh_token_is_a_400(hubspot_sandbox: HubSpotSandbox) -> None:
    resp = requests.post(
        f"{hubspot_sandbox.url}/oauth/v1/token",
        data={"grant_type": "refresh_token", "client_id": "x", "client_secret": "y", "refresh_token": "z"},
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.json()["status"] == "error"
