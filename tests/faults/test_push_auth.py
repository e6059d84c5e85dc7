"""401 in the middle of a push: one refresh (HubSpot OAuth) or one login (Salesforce), the batch
replayed, nothing dead-lettered — and no token in the logs, the mirror or the error texts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.config import HubSpotSettings, Secret
from connector.crm.clients import HubSpotConnection
from connector.sync import Clients
from tests.contract.push.harness import FAST, Crms, start_crms


@pytest.fixture
def crms(tmp_path: Path) -> Iterator[Crms]:
    sandboxes = start_crms(tmp_path)
    try:
        yield sandboxes
    finally:
        sandboxes.stop()


def test_expired_tokens_mid_push_are_refreshed_once_and_never_stored(
    crms: Crms, caplog: pytest.LogCaptureFixture
) -> None:
    oauth = HubSpotSettings(
        base_url=crms.hubspot.url,
        refresh_token=Secret("sandbox-refresh"),
        client_id="sandbox-client",
        client_secret=Secret("sandbox-secret"),
    )
    clients = Clients(hubspot=HubSpotConnection(oauth, policy=FAST), salesforce=crms.clients().salesforce)
    caplog.set_level(logging.DEBUG)
    crms.cycle(clients, push=False)
    crms.admin("hubspot", "POST", "tokens/expire", {"ago": 75})
    crms.admin("salesforce", "POST", "tokens/expire")
    crms.clear_ledgers()

    report = crms.cycle(clients, pull=False)

    assert report.count_outcome("sent") > 0
    assert report.count_outcome("failed") == 0
    hs = [(e["path"], e["status"]) for e in crms.admin("hubspot", "GET", "ledger")]
    assert hs[:3] == [
        ("/crm/v3/objects/contacts/batch/update", 401),
        ("/oauth/v1/token", 200),
        ("/crm/v3/objects/contacts/batch/update", 200),
    ]
    sf = [e["status"] for e in crms.admin("salesforce", "GET", "ledger")]
    assert sf[:3] == [401, 200, 200]
    assert sf.count(401) == 1
    tokens = [t for t in crms.hs_app.tokens.expiry if t.startswith("pat-oauth-")]
    stored = (
        crms.db.read_bytes() + Path(f"{crms.db}-wal").read_bytes() if Path(f"{crms.db}-wal").exists() else b""
    )
    for secret in [*tokens, "sandbox-refresh", "sandbox-secret"]:
        assert secret not in caplog.text
        assert secret.encode() not in stored
