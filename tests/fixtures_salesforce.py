"""pytest plugin: a seeded Salesforce sandbox over real HTTPS, reached with unmodified simple-salesforce."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connector.sandbox.base import RunningServer, serve
from connector.sandbox.salesforce import SalesforceApp, make_app, make_tls
from connector.sandbox.seed import generate
from connector.sandbox.world import Company, Owner, SeedDeal, SeedPerson, SeedTask, World

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"


def _person(i: int, sf_object: str, status: str | None, **kw: Any) -> SeedPerson:
    base: dict[str, Any] = {
        "key": f"p-{i:06d}", "first_name": f"First{i}", "last_name": f"Last{i}",
        "email": f"person{i}@example{i % 3}.com", "title": "VP Sales" if i % 2 else "Engineer",
        "company_key": f"co-{i % 4:04d}", "created_at": NOW - timedelta(days=30 - i),
        "lead_score": str(10 * i), "in_hubspot": False, "lifecyclestage": None, "hs_lead_status": None,
        "in_salesforce": True, "sf_object": sf_object, "sf_lead_status": status, "owner_key": "own-01",
    }  # fmt: skip
    base.update(kw)
    return SeedPerson(**base)


def small_world() -> World:
    """A dozen people, a few deals and tasks: enough for every filter in the contract tests."""
    statuses = ["Open - Not Contacted", "Working - Contacted", "Closed - Not Converted", None]
    people = [_person(i, "Lead", statuses[i % 4]) for i in range(1, 8)]
    people.append(_person(8, "Lead", statuses[0], email=None))
    people += [_person(i, "Contact", None) for i in range(9, 13)]
    people.append(
        _person(13, "Lead", "Open - Not Contacted", email="o'brien@example.com", last_name="O'Brien")
    )
    people.append(
        _person(14, "Lead", "Open - Not Contacted", email=None, lead_score="n/a", in_salesforce=False)
    )
    deals = [
        SeedDeal(
            f"d-{i:05d}",
            f"Deal {i}",
            f"p-{i + 8:06d}",
            f"co-{i % 4:04d}",
            1000.0 * i,
            NOW - timedelta(days=10),
            NOW + timedelta(days=20 * i),
            False,
            "qualifiedtobuy",
            True,
            stage,
            "own-01",
        )
        for i, stage in enumerate(["Prospecting", "Negotiation/Review", "Closed Won"], start=1)
    ]
    tasks = [
        SeedTask("t-1", "Call back", "p-000009", "d-00001", NOW + timedelta(days=1), "NOT_STARTED", "HIGH",
                 "own-01", "salesforce"),
        SeedTask("t-2", "HubSpot only", "p-000001", None, NOW, "COMPLETED", "LOW", None, "hubspot"),
    ]  # fmt: skip
    companies = [
        Company(f"co-{i:04d}", f"Company {i}", f"company{i}.com", "Software", 50 * (i + 1), "EMEA")
        for i in range(4)
    ]
    owners = [Owner("own-01", "Olive Owner", "olive@example.com", "IS")]
    return World(seed=0, now=NOW, companies=companies, owners=owners, people=people, deals=deals, tasks=tasks)


@dataclass
class SalesforceSandbox:
    """A running sandbox: its URL, the CA clients must trust, the app (for admin calls), clients."""

    url: str
    ca_pem: Path
    app: SalesforceApp
    server: RunningServer

    def session(self) -> requests.Session:
        session = requests.Session()
        # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override session.verify (psf/requests#3829)
        session.trust_env = False
        session.verify = str(self.ca_pem)
        return session

    def token(self, session: requests.Session | None = None) -> str:
        form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        resp = (session or self.session()).post(f"{self.url}/services/oauth2/token", data=form, timeout=10)
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def client(self) -> Any:
        """A real simple_salesforce client logged in through the OAuth token endpoint.

        Typed Any: simple-salesforce's `__getattr__` sObject access defeats static typing.
        """
        session = self.session()
        return Salesforce(
            instance_url=self.url, session_id=self.token(session), session=session, version="59.0"
        )

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.session().request(method, f"{self.url}/__sandbox/{path}", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json() if resp.content else None


def error_list(exc: SalesforceError) -> list[dict[str, str]]:
    """The parsed JSON error list simple-salesforce keeps in `content` (which it hints as bytes)."""
    return cast("list[dict[str, str]]", exc.content)


def start_salesforce(directory: Path, world: World | None, **kw: Any) -> SalesforceSandbox:
    ctx, ca_pem = make_tls(directory)
    app = make_app(world, **kw)
    server = serve(app, ssl_context=ctx)
    return SalesforceSandbox(server.url, ca_pem, app, server)


def bulk_world(leads: int) -> World:
    """Many plain leads, for paging."""
    world = small_world()
    world.people = [_person(i, "Lead", "Working - Contacted") for i in range(1, leads + 1)]
    world.deals, world.tasks = [], []
    return world


def _running(directory: Path, world: World) -> Iterator[SalesforceSandbox]:
    sandbox = start_salesforce(directory, world)
    try:
        yield sandbox
    finally:
        sandbox.server.stop()


@pytest.fixture
def salesforce_sandbox(tmp_path: Path) -> Iterator[SalesforceSandbox]:
    """The Salesforce view of a small world from the shared seed generator (60 people, seed 7)."""
    yield from _running(tmp_path, generate(60, 7, overlap=0.5, dirty=0.1, now=NOW))


@pytest.fixture
def salesforce_handmade(tmp_path: Path) -> Iterator[SalesforceSandbox]:
    """A hand-made world whose every record the contract tests can name (see `small_world`)."""
    yield from _running(tmp_path, small_world())
