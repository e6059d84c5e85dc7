"""Both sandboxes from one seeded World, their credentials as the connector reads them, and a
script of simulated human work (new leads, score changes, IS accepting, deals won and lost, churn).

Credentials are minted per start (random), so tests can grep logs and the mirror for the exact
strings, and the env file the runner writes is exactly what `Settings.from_env` reads.
"""

from __future__ import annotations

import random
import secrets
import ssl
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from connector.config import Settings
from connector.model import Crm
from connector.sandbox import hubspot, salesforce
from connector.sandbox.base import RunningServer, serve
from connector.sandbox.seed import generate
from connector.sandbox.world import World


@dataclass
class Sandboxes:
    """Two running sandboxes, the world they were seeded from, and the credentials they accept."""

    world: World
    hubspot: RunningServer
    salesforce: RunningServer
    hubspot_token: str
    sf_client_id: str
    sf_client_secret: str
    ca_pem: Path
    ids: dict[Crm, dict[str, str]] = field(default_factory=dict)  # seed key -> CRM id

    def env(self) -> dict[str, str]:
        """The environment variables the connector reads (see connector/config.py)."""
        return {
            "HUBSPOT_BASE_URL": self.hubspot.url,
            "HUBSPOT_ACCESS_TOKEN": self.hubspot_token,
            "SALESFORCE_INSTANCE_URL": self.salesforce.url,
            "SALESFORCE_LOGIN_URL": self.salesforce.url,
            "SALESFORCE_CLIENT_ID": self.sf_client_id,
            "SALESFORCE_CLIENT_SECRET": self.sf_client_secret,
            "SALESFORCE_CA_BUNDLE": str(self.ca_pem),
        }

    def settings(self, **extra: str) -> Settings:
        return Settings.from_env({**self.env(), **extra})

    def write_env(self, path: Path, **extra: str) -> Path:
        """Write the variables as KEY=VALUE lines, readable only by the owner (they hold tokens)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        lines = [f"{k}={v}" for k, v in {**self.env(), **extra}.items()]
        path.write_text("# written by revops-sync sandbox up\n" + "\n".join(lines) + "\n", encoding="utf-8")
        return path

    def admin(self, crm: Crm) -> httpx.Client:
        """An HTTP client for a sandbox's /__sandbox/ admin API."""
        if crm is Crm.HUBSPOT:
            return httpx.Client(base_url=self.hubspot.url, timeout=30)
        trust = ssl.create_default_context(cafile=str(self.ca_pem))
        return httpx.Client(base_url=self.salesforce.url, timeout=30, verify=trust)

    def refresh_ids(self) -> None:
        with self.admin(Crm.HUBSPOT) as hs, self.admin(Crm.SALESFORCE) as sf:
            self.ids[Crm.HUBSPOT] = hs.get("/__sandbox/keys").raise_for_status().json()
            self.ids[Crm.SALESFORCE] = sf.get("/__sandbox/ids").raise_for_status().json()

    def stop(self) -> None:
        self.hubspot.stop()
        self.salesforce.stop()


def start_sandboxes(
    workdir: Path,
    *,
    people: int = 2000,
    seed: int = 7,
    hubspot_port: int = 0,
    salesforce_port: int = 0,
    now: datetime | None = None,
) -> Sandboxes:
    """Seed one World and serve it as HubSpot (HTTP) and Salesforce (HTTPS, CA written to workdir)."""
    world = generate(people, seed, now=now or datetime.now(UTC))
    token = f"pat-sbx-{secrets.token_hex(16)}"
    client_id, client_secret = f"sbx-client-{secrets.token_hex(6)}", f"sbx-secret-{secrets.token_hex(16)}"
    hs_server = serve(hubspot.make_app(world, token=token, seed=seed), port=hubspot_port)
    ssl_context, ca_pem = salesforce.make_tls(workdir / "sandbox-tls")
    sf_app = salesforce.make_app(world, client_id=client_id, client_secret=client_secret, seed=seed)
    sf_server = serve(sf_app, port=salesforce_port, ssl_context=ssl_context)
    boxes = Sandboxes(world, hs_server, sf_server, token, client_id, client_secret, Path(ca_pem))
    boxes.refresh_ids()
    return boxes


@dataclass(frozen=True)
class Activity:
    """One scripted piece of human work, kept for the demo's narrative and the e2e assertions."""

    what: str  # new_lead, score_up, is_accepts, deal_won, deal_lost, churn
    crm: Crm
    key: str | None  # the seed key of the person or deal acted on
    email: str | None
    detail: str


def _pick(rng: random.Random, items: Iterable[Any], n: int, linked: set[str] | None = None) -> list[Any]:
    """n random items, preferring those whose key is in `linked` (people in both CRMs show more)."""
    pool = list(items)
    if linked is not None:
        both = [x for x in pool if x.key in linked]
        pool = both if len(both) >= n else pool
    return rng.sample(pool, min(n, len(pool)))


def plan_activity(
    boxes: Sandboxes, rng: random.Random, per_kind: int = 3, mqls: set[str] | None = None
) -> list[Activity]:
    """Choose who does what: people linked in a way each action means something to the rules.

    `mqls` (lower-cased emails the connector holds at MQL) lets Inside Sales accept real MQLs; by
    default the seeded MQLs are used, whose Salesforce status may already read "working".
    """
    w, hs_ids, sf_ids = boxes.world, boxes.ids[Crm.HUBSPOT], boxes.ids[Crm.SALESFORCE]
    emails = Counter((p.email or "").lower() for p in w.people)
    ok = [
        p for p in w.people if p.email and "@" in p.email and emails[p.email.lower()] == 1
    ]  # no dirty dupes
    both = {p.key for p in ok if p.in_hubspot and p.in_salesforce}
    both |= {d.key for d in w.deals if d.in_hubspot and d.in_salesforce}
    email_of = {p.key: p.email for p in w.people}
    out: list[Activity] = []

    leads = (p for p in ok if p.in_hubspot and p.lifecyclestage == "lead" and p.key in hs_ids)
    for p in _pick(rng, leads, per_kind, both):
        out.append(Activity("score_up", Crm.HUBSPOT, p.key, p.email, "hubspotscore 92, title Director"))

    sf_leads = [p for p in ok if p.in_salesforce and p.sf_object == "Lead" and p.key in sf_ids]
    if mqls is None:
        accepting = [p for p in sf_leads if p.lifecyclestage == "marketingqualifiedlead"]
    else:
        accepting = [p for p in sf_leads if (p.email or "").lower() in mqls]
    for p in _pick(rng, accepting, per_kind, both):
        out.append(Activity("is_accepts", Crm.SALESFORCE, p.key, p.email, "Lead.Status Working - Contacted"))

    open_hs = (
        d for d in w.deals if d.in_hubspot and d.key in hs_ids and not d.hs_dealstage.startswith("closed")
    )
    for i, d in enumerate(_pick(rng, open_hs, 2 * per_kind, both)):
        what = "deal_won" if i % 2 == 0 else "deal_lost"
        out.append(Activity(what, Crm.HUBSPOT, d.key, email_of.get(d.person_key), d.name))
    sf_contacts = {p.key for p in ok if p.in_salesforce and p.sf_object == "Contact"}
    open_sf = (  # an Opportunity names a Contact, never an unconverted Lead, as in Salesforce
        d
        for d in w.deals
        if d.in_salesforce
        and d.key in sf_ids
        and d.person_key in sf_contacts
        and not d.sf_stage.startswith("Closed")
    )
    for d in _pick(rng, open_sf, per_kind, both):
        out.append(Activity("deal_won", Crm.SALESFORCE, d.key, email_of.get(d.person_key), d.name))

    won = [p for p in ok if p.lifecyclestage == "customer" and p.sf_object == "Contact"]
    for p in _pick(rng, (p for p in won if p.in_hubspot and p.key in hs_ids), per_kind, both):
        out.append(Activity("churn", Crm.HUBSPOT, p.key, p.email, "Customer Success recorded a churn"))
    for i in range(per_kind):
        email = f"new.lead.{rng.randrange(10**6)}.{i}@newco-{i}.example"
        out.append(Activity("new_lead", Crm.HUBSPOT, None, email, "form fill, score 75, VP Marketing"))
    return out


def _actions(boxes: Sandboxes, activity: list[Activity], now: datetime) -> dict[Crm, list[dict[str, Any]]]:
    hs_ids, sf_ids = boxes.ids[Crm.HUBSPOT], boxes.ids[Crm.SALESFORCE]
    churn_day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    out: dict[Crm, list[dict[str, Any]]] = {Crm.HUBSPOT: [], Crm.SALESFORCE: []}
    for a in activity:
        hs: dict[str, Any] | None = None
        sf: dict[str, Any] | None = None
        if a.what == "score_up":
            props = {"hubspotscore": "92", "jobtitle": "Director of Operations"}
            hs = {"action": "edit", "type": "contacts", "id": hs_ids[a.key or ""], "properties": props}
        elif a.what == "is_accepts":
            sf = {
                "action": "set_lead_status",
                "id": sf_ids[a.key or ""],
                "status": "Working - Contacted",
            }
        elif a.what in {"deal_won", "deal_lost"} and a.crm is Crm.HUBSPOT:
            hs = {"action": "win" if a.what == "deal_won" else "lose", "id": hs_ids[a.key or ""]}
        elif a.what == "deal_won":
            sf = {"action": "win_opportunity", "id": sf_ids[a.key or ""]}
        elif a.what == "churn":  # Customer Success records it in both CRMs
            hs = {"action": "edit", "type": "contacts", "id": hs_ids[a.key or ""]}
            hs["properties"] = {"churn_date": churn_day}
            if a.key in sf_ids:
                fields = {"Lifecycle_Stage__c": "Churned", "Churn_Date__c": churn_day}
                sf = {"action": "edit", "type": "Contact", "id": sf_ids[a.key or ""], "fields": fields}
        elif a.what == "new_lead":
            props = {
                "email": a.email or "",
                "lifecyclestage": "lead",
                "hubspotscore": "75",
                "jobtitle": "VP Marketing",
            }
            hs = {"action": "create", "type": "contacts", "properties": {**props, "firstname": "New"}}
        if hs is not None:
            out[Crm.HUBSPOT].append(hs)
        if sf is not None:
            out[Crm.SALESFORCE].append(sf)
    return out


def apply_activity(boxes: Sandboxes, activity: list[Activity], now: datetime | None = None) -> None:
    """Apply planned work through each sandbox's /__sandbox/activity API (as people in the UI would)."""
    for crm, actions in _actions(boxes, activity, now or datetime.now(UTC)).items():
        if actions:
            with boxes.admin(crm) as client:
                client.post("/__sandbox/activity", json=actions).raise_for_status()


def simulate_activity(
    boxes: Sandboxes, rng: random.Random, per_kind: int = 3, now: datetime | None = None
) -> list[Activity]:
    """Plan a round of human work and apply it."""
    activity = plan_activity(boxes, rng, per_kind)
    apply_activity(boxes, activity, now)
    return activity
