"""The shape of a seeded B2B world, shared by both sandboxes' loaders.

`connector.sandbox.seed.generate()` builds one `World` deterministically from a seed; the HubSpot
sandbox loads the people with `in_hubspot` as contacts (and their deals), the Salesforce sandbox
loads those with `in_salesforce` as Leads or Contacts (and their opportunities). People in both
share an email (modulo the dirty-data variations), which is how the connector links them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Company:
    key: str  # stable synthetic key, e.g. "co-0007"
    name: str
    domain: str
    industry: str
    employees: int
    region: str  # "APAC", "EMEA", "NA", "JP"


@dataclass(slots=True)
class Owner:
    key: str  # "own-03"
    name: str
    email: str
    team: str  # "IS" (inside sales), "FS" (field sales), "CS", "MKT"


@dataclass(slots=True)
class SeedPerson:
    key: str  # "p-000123"
    first_name: str
    last_name: str
    email: str | None  # dirty on purpose: None, mixed case, duplicates across people
    title: str
    company_key: str
    created_at: datetime
    lead_score: str | None  # a string, as CRMs store it; sometimes "n/a" on purpose
    # HubSpot view
    in_hubspot: bool
    lifecyclestage: str | None  # HubSpot internal value; occasionally an unknown value on purpose
    hs_lead_status: str | None
    # Salesforce view
    in_salesforce: bool
    sf_object: str  # "Lead" or "Contact" (a converted lead lives on as a Contact)
    sf_lead_status: str | None  # Lead.Status picklist value
    # BANT as Salesforce custom fields (checkbox strings "true"/"false")
    budget: bool = False
    authority: bool = False
    need: bool = False
    timeline: bool = False
    owner_key: str | None = None
    last_contacted_at: datetime | None = None
    modified_at: datetime | None = None


@dataclass(slots=True)
class SeedDeal:
    key: str  # "d-00042"
    name: str
    person_key: str
    company_key: str
    amount: float
    created_at: datetime
    close_date: datetime
    # the same deal in each CRM's vocabulary; a deal lives in one or both CRMs
    in_hubspot: bool
    hs_dealstage: str  # appointmentscheduled … closedwon / closedlost
    in_salesforce: bool
    sf_stage: str  # Prospecting … Closed Won / Closed Lost
    owner_key: str | None = None
    modified_at: datetime | None = None


@dataclass(slots=True)
class SeedTask:
    key: str
    subject: str
    person_key: str
    deal_key: str | None
    due: datetime
    status: str  # "NOT_STARTED" / "COMPLETED"
    priority: str  # "LOW" / "MEDIUM" / "HIGH"
    owner_key: str | None
    crm: str  # "hubspot" or "salesforce"


@dataclass(slots=True)
class World:
    seed: int
    now: datetime
    companies: list[Company] = field(default_factory=list)
    owners: list[Owner] = field(default_factory=list)
    people: list[SeedPerson] = field(default_factory=list)
    deals: list[SeedDeal] = field(default_factory=list)
    tasks: list[SeedTask] = field(default_factory=list)
