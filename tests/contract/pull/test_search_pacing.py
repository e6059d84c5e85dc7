"""HubSpot searches are paced client-side to the account's per-second limit (crm/pacing.py).

Unpaced, a burst of searches draws 429s from a sandbox enforcing that limit; paced to it, the same
burst draws none, and calls that are not searches are never held back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.crm.clients import HubSpotConnection
from connector.errors import RetryableError
from connector.sandbox.hubspot import HubSpotLimits
from tests.contract.pull.conftest import FAST, hubspot_settings
from tests.fixtures_hubspot import SandboxFactory

LIMIT = 2  # searches per second the sandbox allows: small, so a burst overruns it at once
SEARCH = ("crm.contacts.search_api", "do_search")
BODY = {"limit": 1, "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]}


def connection(factory: SandboxFactory, rate: int) -> HubSpotConnection:
    sandbox = factory(people=5, limits=HubSpotLimits(search_per_second=LIMIT))
    settings = hubspot_settings(sandbox)
    assert settings.search_rate == LIMIT  # the tests' settings pace to what the sandbox enforces
    return HubSpotConnection(replace(settings, search_rate=rate), policy=replace(FAST, attempts=1))


def test_paced_searches_are_never_refused(hubspot_sandbox_factory: SandboxFactory) -> None:
    conn = connection(hubspot_sandbox_factory, LIMIT)
    for _ in range(3 * LIMIT):
        assert conn.call_json(*SEARCH, public_object_search_request=BODY)["results"]
    assert conn.calls == 3 * LIMIT
    assert conn.paced_seconds > 0


def test_unpaced_searches_overrun_the_limit(hubspot_sandbox_factory: SandboxFactory) -> None:
    conn = connection(hubspot_sandbox_factory, 0)
    for _ in range(LIMIT):
        conn.call_json(*SEARCH, public_object_search_request=BODY)
    with pytest.raises(RetryableError):
        conn.call_json(*SEARCH, public_object_search_request=BODY)
    assert conn.paced_seconds == 0


def test_other_calls_are_not_paced(hubspot_sandbox_factory: SandboxFactory) -> None:
    conn = connection(hubspot_sandbox_factory, LIMIT)
    for _ in range(3 * LIMIT):
        conn.call_json("crm.contacts.basic_api", "get_page", limit=1)
    assert conn.paced_seconds == 0
