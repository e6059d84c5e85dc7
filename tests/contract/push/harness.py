"""Both CRM sandboxes seeded from one world, the connections and mirror a cycle needs, and the
observations the push tests make (write calls from the ledgers, task keys in the CRM stores)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from connector.config import HubSpotSettings, SalesforceSettings, Secret, Settings
from connector.crm.clients import HubSpotConnection, SalesforceConnection
from connector.crm.retry import RetryPolicy
from connector.mirror.db import Mirror, open_mirror
from connector.push.writes import PlannedWrite
from connector.rules.compiled import Mapping
from connector.rules.loader import load_mapping
from connector.sandbox.base import RunningServer, serve
from connector.sandbox.hubspot import HubSpotApp, HubSpotLimits
from connector.sandbox.hubspot import make_app as make_hubspot
from connector.sandbox.salesforce import SalesforceApp
from connector.sandbox.seed import generate
from connector.sync import Clients, CycleReport, run_cycle
from tests.fixtures_salesforce import CLIENT_ID, CLIENT_SECRET, SalesforceSandbox, start_salesforce

HS_TOKEN = "pat-sandbox"
FAST = RetryPolicy(initial=0.01, cap=0.05, jitter=0.01, attempts=8)
WRITE_PATHS = ("/batch/update", "/batch/create", "/batch/upsert", "/composite/sobjects")


@dataclass
class Crms:
    hubspot: RunningServer
    salesforce: SalesforceSandbox
    db: Path
    mapping: Mapping = field(default_factory=load_mapping)

    @property
    def hs_app(self) -> HubSpotApp:
        app = self.hubspot.app
        assert isinstance(app, HubSpotApp)
        return app

    @property
    def sf_app(self) -> SalesforceApp:
        return self.salesforce.app

    @property
    def search_rate(self) -> int:
        """Pace searches to the limit the sandbox enforces, none when it enforces none."""
        limits = self.hs_app.limits
        return limits.search_per_second if limits.enforce else 0

    def settings(self) -> Settings:
        return Settings(
            hubspot=HubSpotSettings(
                base_url=self.hubspot.url, access_token=Secret(HS_TOKEN), search_rate=self.search_rate
            ),
            salesforce=SalesforceSettings(
                instance_url=self.salesforce.url,
                login_url=self.salesforce.url,
                client_id=CLIENT_ID,
                client_secret=Secret(CLIENT_SECRET),
                ca_bundle=str(self.salesforce.ca_pem),
            ),
            database_url=f"sqlite:///{self.db}",
        )

    def env(self) -> dict[str, str]:
        """The environment a child `python -m connector.sync` needs to reach these sandboxes."""
        s = self.settings()
        return {
            **os.environ,
            "HUBSPOT_BASE_URL": s.hubspot.base_url,
            "HUBSPOT_ACCESS_TOKEN": HS_TOKEN,
            "HUBSPOT_SEARCH_RATE": str(self.search_rate),
            "SALESFORCE_INSTANCE_URL": self.salesforce.url,
            "SALESFORCE_LOGIN_URL": self.salesforce.url,
            "SALESFORCE_CLIENT_ID": CLIENT_ID,
            "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
            "SALESFORCE_CA_BUNDLE": str(self.salesforce.ca_pem),
            "REVOPS_DATABASE_URL": s.database_url,
        }

    def clients(self, policy: RetryPolicy = FAST, timeout: float = 30.0) -> Clients:
        s = self.settings()
        return Clients(
            hubspot=HubSpotConnection(s.hubspot, policy=policy, timeout=timeout),
            salesforce=SalesforceConnection(s.salesforce, policy=policy, timeout=timeout),
        )

    def mirror(self) -> Mirror:
        return open_mirror(f"sqlite:///{self.db}")

    def cycle(self, clients: Clients | None = None, **kw: Any) -> CycleReport:
        mirror = self.mirror()
        try:
            return run_cycle(clients or self.clients(), mirror, self.mapping, **kw)
        finally:
            mirror.close()

    # ---- observations -------------------------------------------------------------------
    def admin(self, crm: str, method: str, path: str, body: Any = None) -> Any:
        if crm == "hubspot":
            resp = requests.request(method, f"{self.hubspot.url}/__sandbox/{path}", json=body, timeout=10)
            resp.raise_for_status()
            return resp.json() if resp.content else None
        return self.salesforce.admin(method, path, body)

    def faults(self, crm: str, rules: list[dict[str, Any]], seed: int = 1) -> None:
        self.admin(crm, "POST", "faults", {"rules": rules, "seed": seed})

    def clear_ledgers(self) -> None:
        for crm in ("hubspot", "salesforce"):
            self.admin(crm, "DELETE", "ledger")

    def write_calls(self) -> list[dict[str, Any]]:
        """Every write request either sandbox answered (injected faults included)."""
        calls = []
        for crm in ("hubspot", "salesforce"):
            for entry in self.admin(crm, "GET", "ledger"):
                if entry["method"] in {"POST", "PATCH"} and any(p in entry["path"] for p in WRITE_PATHS):
                    calls.append({**entry, "crm": crm})
        return calls

    def hubspot_task_keys(self) -> Counter[str]:
        tasks = self.hs_app.store.records["tasks"].values()
        return Counter(
            str(t.props["revops_idempotency_key"]) for t in tasks if t.props.get("revops_idempotency_key")
        )

    def salesforce_task_keys(self) -> Counter[str]:
        tasks = self.sf_app.store.live("Task")
        return Counter(str(t["Revops_Key__c"]) for t in tasks if t.get("Revops_Key__c"))

    def hubspot_contact(self, rid: str) -> dict[str, Any]:
        rec = self.hs_app.store.get("contacts", int(rid))
        assert rec is not None
        return dict(rec.props)

    def salesforce_record(self, sobject: str, rid: str) -> dict[str, Any]:
        return dict(self.sf_app.store.get(sobject, rid))

    def stop(self) -> None:
        self.hubspot.stop()
        self.salesforce.server.stop()


def outbox(crms: Crms, where: str = "1 = 1") -> list[tuple[str, PlannedWrite]]:
    """(status, write) for the outbox rows matching a SQL condition on the outbox table."""
    mirror = crms.mirror()
    with mirror.reader() as s:
        rows = s.connection().exec_driver_sql(f"SELECT status, payload FROM outbox WHERE {where}").all()
    mirror.close()
    return [(r[0], PlannedWrite.from_json(r[1])) for r in rows]


def start_crms(directory: Path, people: int = 120, seed: int = 11, dirty: float = 0.04) -> Crms:
    """Both sandboxes from the same seeded world (people in both share their email)."""
    world = generate(people, seed=seed, dirty=dirty)
    hubspot = serve(make_hubspot(world, token=HS_TOKEN, limits=HubSpotLimits(enforce=False)))
    salesforce = start_salesforce(directory, world)
    return Crms(hubspot, salesforce, directory / "mirror.db")
