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

# HubSpot's default lifecycle order ('other' last): the stage-date properties, and the write side's
# forward-only check, both follow it.
HS_LIFECYCLE_ORDER = (
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
    # pulled only where the CRM has them (Salesforce: checked against describe); `properties` are required
    optional: tuple[str, ...] = ()
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
    "hubspotscore",
    "numemployees",
    "country",
    "notes_last_contacted",
    "churn_date",
    "hs_object_id",
    "createdate",
    "lastmodifieddate",
    "hs_merged_object_ids",
    *(f"hs_v2_date_entered_{s}" for s in HS_LIFECYCLE_ORDER),
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
_SF_PERSON = ("FirstName", "LastName", "Email", "Title")
# Selected when the org's describe has them (custom fields differ per org; MasterRecordId marks merges).
_SF_PERSON_OPTIONAL = (
    "LeadSource",
    "MasterRecordId",
    "LastActivityDate",
    "Lead_Score__c",
    "Lifecycle_Stage__c",
    "Budget_Confirmed__c",
    "Authority_Confirmed__c",
    "Need_Confirmed__c",
    "Timeline_Confirmed__c",
)

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
            *_SF_PERSON,
            "Company",
            "Status",
            "IsConverted",
            "ConvertedContactId",
            "ConvertedAccountId",
            "ConvertedOpportunityId",
            "ConvertedDate",
        ),
        optional=(*_SF_PERSON_OPTIONAL, "NumberOfEmployees", "Country", "Rating"),
    ),
    Stream(
        "salesforce.contacts",
        Crm.SALESFORCE,
        "Contact",
        "SystemModstamp",
        (*_SF_COMMON, *_SF_PERSON, "AccountId"),
        optional=(*_SF_PERSON_OPTIONAL, "MailingCountry", "Churn_Date__c"),
    ),
    Stream(
        "salesforce.accounts",
        Crm.SALESFORCE,
        "Account",
        "SystemModstamp",
        (*_SF_COMMON, "Name"),
        optional=("Website", "Industry", "NumberOfEmployees", "Region__c", "MasterRecordId"),
    ),
    Stream(
        "salesforce.opportunities",
        Crm.SALESFORCE,
        "Opportunity",
        "SystemModstamp",
        (*_SF_COMMON, "Name", "AccountId", "StageName", "CloseDate", "IsClosed", "IsWon"),
        # ContactId is standard since API 46; orgs (and the sandbox) may carry a custom link instead.
        optional=("Amount", "Probability", "ForecastCategoryName", "ContactId", "ContactId__c"),
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
