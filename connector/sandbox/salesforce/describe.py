"""The sObject schemas the sandbox knows: one table drives describe, SOQL field checks and validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_PRIORITIES = ("High", "Normal", "Low")
# A custom field: its values are the company's own; these cover THE MODEL's ladder and side states.
LIFECYCLE = (
    "Subscriber", "Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer", "Evangelist",
    "Recycled", "Disqualified", "Churned", "Other",
)  # fmt: skip
RATINGS = ("Hot", "Warm", "Cold")
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")


@dataclass(frozen=True, slots=True)
class Stage:
    """An OpportunityStage row: the flags Salesforce derives from StageName."""

    name: str
    probability: int
    closed: bool
    won: bool
    forecast: str


OPPORTUNITY_STAGES = (
    Stage("Prospecting", 10, False, False, "Pipeline"),
    Stage("Qualification", 10, False, False, "Pipeline"),
    Stage("Needs Analysis", 20, False, False, "Pipeline"),
    Stage("Value Proposition", 50, False, False, "Pipeline"),
    Stage("Id. Decision Makers", 60, False, False, "Pipeline"),
    Stage("Perception Analysis", 70, False, False, "Pipeline"),
    Stage("Proposal/Price Quote", 75, False, False, "Pipeline"),
    Stage("Negotiation/Review", 90, False, False, "Commit"),
    Stage("Closed Won", 100, True, True, "Closed"),
    Stage("Closed Lost", 0, True, False, "Omitted"),
)
STAGES = {s.name: s for s in OPPORTUNITY_STAGES}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # id, string, email, picklist, boolean, double, date, datetime, reference, textarea
    required: bool = False  # on create
    updateable: bool = True
    picklist: tuple[str, ...] = ()
    external_id: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    custom: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "custom": self.custom,
            "externalId": self.external_id,
            "unique": self.unique,
            "nillable": not self.required and self.type != "boolean",
            "createable": self.updateable,
            "updateable": self.updateable,
            "referenceTo": list(self.reference_to),
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "value": v} for v in self.picklist
            ],
        }


def _f(name: str, type_: str = "string", **kw: Any) -> Field:
    return Field(name, type_, custom=name.endswith("__c"), **kw)


_SYSTEM = (
    _f("Id", "id", updateable=False),
    _f("IsDeleted", "boolean", updateable=False),
    _f("CreatedDate", "datetime", updateable=False),
    _f("LastModifiedDate", "datetime", updateable=False),
    _f("SystemModstamp", "datetime", updateable=False),
    _f("OwnerId", "reference", reference_to=("User",)),
)
_PERSON = (
    _f("FirstName"),
    _f("LastName", required=True),
    _f("Name", updateable=False),
    _f("Email", "email"),
    _f("Title"),
    _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
    _f("Lead_Score__c"),  # Text: seeded data is dirty on purpose ("n/a")
    _f("Lifecycle_Stage__c", "picklist", picklist=LIFECYCLE),
    _f("Budget_Confirmed__c", "boolean"),
    _f("Authority_Confirmed__c", "boolean"),
    _f("Need_Confirmed__c", "boolean"),
    _f("Timeline_Confirmed__c", "boolean"),
)

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "Lead": (
        *_SYSTEM,
        *_PERSON,
        _f("Company", required=True),
        _f("Status", "picklist", picklist=LEAD_STATUSES),
        _f("Rating", "picklist", picklist=RATINGS),
        _f("IsConverted", "boolean", updateable=False),
        _f("ConvertedDate", "date", updateable=False),
        _f("ConvertedContactId", "reference", updateable=False, reference_to=("Contact",)),
        _f("ConvertedAccountId", "reference", updateable=False, reference_to=("Account",)),
        _f("ConvertedOpportunityId", "reference", updateable=False, reference_to=("Opportunity",)),
    ),
    "Contact": (
        *_SYSTEM,
        *_PERSON,
        _f("AccountId", "reference", reference_to=("Account",)),
        _f("Churn_Date__c", "date"),  # set by Customer Success; the churn rule reads it
    ),
    "Account": (
        *_SYSTEM,
        _f("Name", required=True),
        _f("Website", "url"),
        _f("Industry"),
        _f("NumberOfEmployees", "int"),
        _f("Region__c"),
    ),
    "Opportunity": (
        *_SYSTEM,
        _f("Name", required=True),
        _f("StageName", "picklist", required=True, picklist=tuple(STAGES)),
        _f("CloseDate", "date", required=True),
        _f("Amount", "currency"),
        _f("Probability", "percent"),
        _f("IsClosed", "boolean", updateable=False),
        _f("IsWon", "boolean", updateable=False),
        _f("ForecastCategoryName", "picklist", updateable=False),
        _f("AccountId", "reference", reference_to=("Account",)),
        _f("ContactId__c", "reference", reference_to=("Contact",)),
    ),
    "Task": (
        *_SYSTEM,
        _f("Subject"),
        _f("WhoId", "reference", reference_to=("Lead", "Contact")),
        _f("WhatId", "reference", reference_to=("Opportunity", "Account")),
        _f("ActivityDate", "date"),
        _f("Status", "picklist", picklist=TASK_STATUSES),
        _f("Priority", "picklist", picklist=TASK_PRIORITIES),
        _f("IsClosed", "boolean", updateable=False),
        _f("Description", "textarea"),
        _f("Revops_Key__c", external_id=True, unique=True),
    ),
}
FIELDS: dict[str, dict[str, Field]] = {t: {f.name: f for f in fs} for t, fs in SCHEMAS.items()}
# case-insensitive lookup, as SOQL and the REST API treat field names
CANONICAL: dict[str, dict[str, str]] = {t: {n.lower(): n for n in fs} for t, fs in FIELDS.items()}
KEY_PREFIX = {"Lead": "00Q", "Contact": "003", "Account": "001", "Opportunity": "006", "Task": "00T"}
PREFIX_TYPE = {v: k for k, v in KEY_PREFIX.items()}
SOBJECTS = {t.lower(): t for t in SCHEMAS}


def describe(sobject: str, api_version: str) -> dict[str, Any]:
    """The `/sobjects/{Type}/describe/` body, trimmed to the keys clients read."""
    base = f"/services/data/v{api_version}/sobjects/{sobject}"
    return {
        "name": sobject,
        "label": sobject,
        "keyPrefix": KEY_PREFIX[sobject],
        "custom": False,
        "queryable": True,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "fields": [f.describe() for f in SCHEMAS[sobject]],
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }
