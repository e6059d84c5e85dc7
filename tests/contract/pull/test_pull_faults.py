"""The pull under the sandboxes' faults: bursts and 5xx retried under the one policy, the daily
quota stopping the cycle with its cursor at the last committed page, and expired tokens refreshed
once and replayed without ever being logged."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connector.config import HubSpotSettings, Secret
from connector.crm.clients import HubSpotConnection
from connector.crm.hubspot import HubSpotReader
from connector.errors import QuotaExhausted, RetryableError
from connector.mirror.db import Mirror
from connector.pull import pull_cycle
from connector.sandbox.hubspot import HubSpotLimits
from tests.contract.pull.conftest import (
    FAST,
    hubspot_reader,
    mirrored,
    salesforce_reader,
    version_counts,
)
from tests.fixtures_hubspot import HubSpotSandbox, SandboxFactory
from tests.fixtures_salesforce import SalesforceSandbox

CONTACTS = ["hubspot.contacts"]


def now() -> datetime:
    return datetime.now(UTC)


def live_contacts(sandbox: HubSpotSandbox) -> set[str]:
    return {r["id"] for r in sandbox.admin("GET", "state/contacts")["results"] if not r["archived"]}


@pytest.mark.parametrize(
    "rules",
    [
        [{"path": "/search", "status": 429, "retry_after": 0.05, "limit": 2}],
        [{"path": "/search", "status": 502, "limit": 2}, {"path": "/search", "status": 503, "limit": 1}],
    ],
    ids=["429-retry-after", "5xx-burst"],
)
def test_transient_failures_are_retried_and_nothing_is_lost(
    hubspot_sandbox: HubSpotSandbox, mirror: Mirror, rules: list[dict[str, str | int | float]]
) -> None:
    hubspot_sandbox.admin("POST", "faults", {"rules": rules})
    stats = pull_cycle(mirror, [hubspot_reader(hubspot_sandbox)], now=now(), streams=CONTACTS)
    injected = [e for e in hubspot_sandbox.ledger() if e["fault"]]
    assert len(injected) == sum(int(r["limit"]) for r in rules)
    assert stats[0].api_calls == stats[0].pages + len(injected)
    assert set(mirrored(mirror, "hubspot", "contacts")) == live_contacts(hubspot_sandbox)


def test_daily_quota_stops_the_cycle_and_the_next_one_resumes(
    hubspot_sandbox_factory: SandboxFactory, mirror: Mirror
) -> None:
    sandbox = hubspot_sandbox_factory(people=700, limits=HubSpotLimits(daily=2, enforce=True))
    reader = hubspot_reader(sandbox)
    with pytest.raises(QuotaExhausted):
        pull_cycle(mirror, [reader], now=now(), streams=CONTACTS)
    assert sum(1 for e in sandbox.ledger() if e["status"] == 429) == 1  # DAILY is not retried
    partial = len(mirrored(mirror, "hubspot", "contacts"))
    assert partial == 400  # the two pages the quota allowed, committed with their cursor
    sandbox.app.limits.daily = 1_000_000
    stats = pull_cycle(mirror, [reader], now=now(), streams=CONTACTS)
    assert stats[0].resumed
    assert set(mirrored(mirror, "hubspot", "contacts")) == live_contacts(sandbox)
    assert version_counts(mirror)[1] == 1


def test_salesforce_request_limit_exceeded_is_quota_not_retried(
    salesforce_sandbox: SalesforceSandbox, mirror: Mirror
) -> None:
    reader = salesforce_reader(salesforce_sandbox)
    salesforce_sandbox.admin("POST", "usage", {"used": 15_000, "limit": 15_000})
    with pytest.raises(QuotaExhausted):
        pull_cycle(mirror, [reader], now=now())
    assert sum(1 for e in salesforce_sandbox.admin("GET", "ledger") if e["status"] == 403) == 1
    assert not mirrored(mirror, "salesforce", "Lead")


def test_expired_hubspot_oauth_token_is_refreshed_once_and_never_logged(
    hubspot_sandbox: HubSpotSandbox, mirror: Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    settings = HubSpotSettings(
        base_url=hubspot_sandbox.url,
        refresh_token=Secret("sandbox-refresh"),
        client_id="sandbox-client",
        client_secret=Secret("sandbox-secret"),
    )
    conn = HubSpotConnection(settings, policy=FAST)
    reader = HubSpotReader(conn)
    caplog.set_level(logging.DEBUG)
    pull_cycle(mirror, [reader], now=now(), streams=CONTACTS)
    expired = hubspot_sandbox.admin("POST", "tokens/expire", {"ago": 75})["expired"]
    hubspot_sandbox.admin("DELETE", "ledger")
    pull_cycle(mirror, [reader], now=now() + timedelta(seconds=1), streams=CONTACTS)
    statuses = [(e["path"], e["status"]) for e in hubspot_sandbox.ledger()]
    assert statuses == [
        ("/crm/v3/objects/contacts/search", 401),
        ("/oauth/v1/token", 200),
        ("/crm/v3/objects/contacts/search", 200),
    ]
    tokens = [t for t in hubspot_sandbox.app.tokens.expiry if t.startswith("pat-oauth-")]
    assert any(t.startswith(expired.rstrip(".")) for t in tokens)
    for token in [*tokens, "sandbox-refresh", "sandbox-secret"]:
        assert token not in caplog.text


def test_expired_salesforce_session_logs_in_again_once(
    salesforce_sandbox: SalesforceSandbox, mirror: Mirror
) -> None:
    reader = salesforce_reader(salesforce_sandbox)
    pull_cycle(mirror, [reader], now=now())
    salesforce_sandbox.admin("POST", "tokens/expire")
    salesforce_sandbox.admin("DELETE", "ledger")
    pull_cycle(mirror, [reader], now=now() + timedelta(seconds=1))
    statuses = [e["status"] for e in salesforce_sandbox.admin("GET", "ledger")]
    assert statuses[:3] == [401, 200, 200]  # first query refused, one login, the query replayed
    assert statuses.count(401) == 1


def test_the_client_library_never_retries_behind_our_back(
    hubspot_sandbox: HubSpotSandbox, mirror: Mirror
) -> None:
    """urllib3's default Retry(3) re-sends a GET answered 503 + Retry-After (facts §5); ours is off,
    so with a one-attempt policy exactly one request reaches the server and the error surfaces."""
    hubspot_sandbox.admin(
        "POST", "faults", {"rules": [{"path": "/crm/v3/objects/contacts$", "status": 503, "retry_after": 0}]}
    )
    settings = HubSpotSettings(base_url=hubspot_sandbox.url, access_token=Secret(hubspot_sandbox.token))
    reader = HubSpotReader(HubSpotConnection(settings, policy=replace(FAST, attempts=1)))
    with pytest.raises(RetryableError):
        pull_cycle(mirror, [reader], now=now(), streams=["hubspot.contacts.archived"])
    assert [e["status"] for e in hubspot_sandbox.ledger()] == [503]
