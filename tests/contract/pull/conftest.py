"""Fixtures for the pull contract tests: a mirror on disk and readers wired to the real sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from connector.config import HubSpotSettings, SalesforceSettings, Secret
from connector.crm.clients import HubSpotConnection, SalesforceConnection
from connector.crm.hubspot import HubSpotReader
from connector.crm.retry import RetryPolicy
from connector.crm.salesforce import SalesforceReader
from connector.mirror.db import Mirror, open_mirror
from connector.mirror.records import history, of_records
from connector.sandbox.world import World
from tests.fixtures_hubspot import HubSpotSandbox
from tests.fixtures_salesforce import CLIENT_ID, CLIENT_SECRET, SalesforceSandbox, start_salesforce

FAST = RetryPolicy(initial=0.01, cap=0.05, jitter=0.01)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    m = open_mirror(f"sqlite:///{tmp_path / 'mirror.db'}")
    yield m
    m.close()


def hubspot_settings(sandbox: HubSpotSandbox) -> HubSpotSettings:
    """Searches paced to the limit the sandbox enforces, unpaced when it enforces none."""
    limits = sandbox.app.limits
    rate = limits.search_per_second if limits.enforce else 0
    return HubSpotSettings(base_url=sandbox.url, access_token=Secret(sandbox.token), search_rate=rate)


def hubspot_reader(sandbox: HubSpotSandbox) -> HubSpotReader:
    return HubSpotReader(HubSpotConnection(hubspot_settings(sandbox), policy=FAST))


def salesforce_settings(sandbox: SalesforceSandbox) -> SalesforceSettings:
    return SalesforceSettings(
        instance_url=sandbox.url,
        login_url=sandbox.url,
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
        ca_bundle=str(sandbox.ca_pem),
    )


def salesforce_reader(sandbox: SalesforceSandbox) -> SalesforceReader:
    return SalesforceReader(SalesforceConnection(salesforce_settings(sandbox), policy=FAST))


@dataclass
class SfFactory:
    directory: Path
    started: list[SalesforceSandbox]

    def __call__(self, world: World | None) -> SalesforceSandbox:
        sandbox = start_salesforce(self.directory / f"sf{len(self.started)}", world)
        self.started.append(sandbox)
        return sandbox


@pytest.fixture
def salesforce_factory(tmp_path: Path) -> Iterator[SfFactory]:
    factory = SfFactory(tmp_path, [])
    yield factory
    for sandbox in factory.started:
        sandbox.server.stop()


def rows(mirror: Mirror, sql: str, **params: Any) -> list[Any]:
    with mirror.engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def mirrored(mirror: Mirror, crm: str, object_type: str) -> dict[str, Any]:
    """record_id -> the current mirrored row."""
    found = rows(
        mirror,
        "SELECT * FROM records WHERE crm = :crm AND object_type = :t",
        crm=crm,
        t=object_type,
    )
    return {r.record_id: r for r in found}


def versions_per_record(mirror: Mirror, crm: str, object_type: str) -> dict[str, int]:
    """record_id -> how many versions the mirror keeps of it (superseded ones and the current)."""
    v = history(of_records(crm, object_type)).c
    with mirror.engine.connect() as conn:
        return dict(conn.execute(select(v.record_id, func.count()).group_by(v.record_id)).all())


def version_counts(mirror: Mirror, crm: str | None = None) -> tuple[int, int | None]:
    """(versions kept, highest version number) over every record, or one CRM's."""
    v = history(None if crm is None else lambda c: c.crm == crm).c
    with mirror.engine.connect() as conn:
        n, high = conn.execute(select(func.count(), func.max(v.version_no))).one()
    return n, high
