"""Every stream the connector pulls, declared once: the adapters and `pull` loop over this table.

A stream is one CRM object read incrementally on one cursor field. `kind="archived"` streams are
HubSpot's deleted-record sweeps: search never returns archived records, so they are listed with
`archived=true` at most every `min_interval` (BEHAVIOR.md "Archived records").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from connector.errors import ConfigError
from connector.model import Crm

_HS_LIFECYCLE = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
_HS_DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)


@dataclass(frozen=True, slots=True)
class Stream:
    name: str
    crm: Crm
    object: str  # the CRM's own object name
    cursor_field: str
    properties: tuple[str, ...]
    associations: tuple[str, ...] = ()  # other object types to attach to each record
    kind: Literal["changes", "archived"] = "changes"
    min_interval: timedelta | None = None  # archived sweeps: skip if the last one is fresher


HS_CONTACT_PROPS = (
    "email",
    "firstname",
    "lastname",
    "jobtitle",
    "company",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "hs_object_id",
    "createdate",
    "lastmodifieddate",
    "hs_merged_object_ids",
    *(f"hs_v2_date_entered_{s}" for s in _HS_LIFECYCLE),
)
HS_DEAL_PROPS = (
    "dealname",
    "dealstage",
    "pipeline",
    "amount",
    "closedate",
    "hubspot_owner_id",
    "hs_object_id",
    "createdate",
    "hs_lastmodifieddate",
    "hs_merged_object_ids",
    "hs_is_closed",
    "hs_is_closed_won",
    *(f"hs_v2_date_entered_{s}" for s in _HS_DEAL_STAGES),
)
_SF_COMMON = ("Id", "IsDeleted", "SystemModstamp", "CreatedDate", "LastModifiedDate", "OwnerId")

STREAMS: tuple[Stream, ...] = (
    Stream("hubspot.contacts", Crm.HUBSPOT, "contacts", "lastmodifieddate", HS_CONTACT_PROPS),
    Stream(
        "hubspot.deals",
        Crm.HUBSPOT,
        "deals",
        "hs_lastmodifieddate",
        HS_DEAL_PROPS,
        associations=("contacts",),
    ),
    Stream(
        "hubspot.contacts.archived",
        Crm.HUBSPOT,
        "contacts",
        "archivedAt",
        HS_CONTACT_PROPS,
        kind="archived",
        min_interval=timedelta(hours=1),
    ),
    Stream(
        "hubspot.deals.archived",
        Crm.HUBSPOT,
        "deals",
        "archivedAt",
        HS_DEAL_PROPS,
        kind="archived",
        min_interval=timedelta(hours=1),
    ),
    Stream(
        "salesforce.leads",
        Crm.SALESFORCE,
        "Lead",
        "SystemModstamp",
        (
            *_SF_COMMON,
            "FirstName",
            "LastName",
            "Email",
            "Company",
            "Title",
            "Status",
            "LeadSource",
            "IsConverted",
            "ConvertedContactId",
            "ConvertedAccountId",
            "ConvertedOpportunityId",
            "ConvertedDate",
            "MasterRecordId",
        ),
    ),
    Stream(
        "salesforce.contacts",
        Crm.SALESFORCE,
        "Contact",
        "SystemModstamp",
        (*_SF_COMMON, "FirstName", "LastName", "Email", "Title", "AccountId", "MasterRecordId"),
    ),
    Stream(
        "salesforce.accounts",
        Crm.SALESFORCE,
        "Account",
        "SystemModstamp",
        (*_SF_COMMON, "Name", "Website", "Industry", "NumberOfEmployees", "MasterRecordId"),
    ),
    Stream(
        "salesforce.opportunities",
        Crm.SALESFORCE,
        "Opportunity",
        "SystemModstamp",
        (
            *_SF_COMMON,
            "Name",
            "AccountId",
            "ContactId",
            "StageName",
            "Amount",
            "CloseDate",
            "IsClosed",
            "IsWon",
            "Probability",
        ),
    ),
)

_BY_NAME = {s.name: s for s in STREAMS}


def get_stream(name: str) -> Stream:
    """The stream called `name`; a ConfigError lists the valid names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown stream {name!r}; known: {', '.join(_BY_NAME)}") from None


def streams_for(crm: Crm) -> tuple[Stream, ...]:
    return tuple(s for s in STREAMS if s.crm is crm)
