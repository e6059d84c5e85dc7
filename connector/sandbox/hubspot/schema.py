"""HubSpot's object vocabulary as the sandbox knows it: types, properties, stages, association ids.

One table per concept so the store, search and metadata routes never disagree.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

OBJECT_ALIASES: dict[str, str] = {
    "contacts": "contacts", "contact": "contacts", "0-1": "contacts",
    "deals": "deals", "deal": "deals", "0-3": "deals",
    "tasks": "tasks", "task": "tasks", "0-27": "tasks",
}  # fmt: skip
SINGULAR = {"contacts": "contact", "deals": "deal", "tasks": "task"}
MODIFIED_PROP = {
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "tasks": "hs_lastmodifieddate",
}
CREATED_PROP = {"contacts": "createdate", "deals": "createdate", "tasks": "hs_createdate"}
DEFAULT_PROPS: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
              "hs_object_id", "pipeline"),
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}  # fmt: skip

LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
             "opportunity", "customer", "evangelist", "other")  # fmt: skip
LEAD_STATUS = ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT",
               "CONNECTED", "BAD_TIMING")  # fmt: skip
# (stage id, label, probability, closed)
DEAL_STAGES: tuple[tuple[str, str, str, bool], ...] = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
)
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("contacts", "lifecyclestage"): LIFECYCLE,
    ("contacts", "hs_lead_status"): LEAD_STATUS,
    ("deals", "dealstage"): tuple(s[0] for s in DEAL_STAGES),
    ("deals", "pipeline"): ("default",),
    ("tasks", "hs_task_status"): ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
    ("tasks", "hs_task_priority"): ("NONE", "LOW", "MEDIUM", "HIGH"),
    ("tasks", "hs_task_type"): ("EMAIL", "CALL", "TODO"),
}
NUMBER_PROPS = frozenset(
    {"hubspotscore", "amount", "hs_object_id", "numemployees", "hs_deal_stage_probability"}
)
DATE_PROPS = frozenset({"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate", "hs_timestamp",
                        "hs_createdate", "notes_last_contacted", "hs_lastactivitydate",
                        "churn_date"})  # fmt: skip
# name -> (type, fieldType) for the Properties API; the store accepts any other name too.
PROPERTIES: dict[str, dict[str, tuple[str, str]]] = {
    "contacts": {
        "email": ("string", "text"), "firstname": ("string", "text"), "lastname": ("string", "text"),
        "jobtitle": ("string", "text"), "company": ("string", "text"),
        "numemployees": ("number", "number"), "country": ("string", "text"), "churn_date": ("date", "date"),
        "lifecyclestage": ("enumeration", "radio"), "hs_lead_status": ("enumeration", "radio"),
        "hubspotscore": ("number", "number"), "hubspot_owner_id": ("enumeration", "select"),
        "createdate": ("datetime", "date"), "lastmodifieddate": ("datetime", "date"),
        "hs_object_id": ("number", "number"), "notes_last_contacted": ("datetime", "date"),
        "hs_merged_object_ids": ("enumeration", "checkbox"),
        "budget": ("bool", "booleancheckbox"), "authority": ("bool", "booleancheckbox"),
        "need": ("bool", "booleancheckbox"), "timeline": ("bool", "booleancheckbox"),
    },
    "deals": {
        "dealname": ("string", "text"), "amount": ("number", "number"),
        "dealstage": ("enumeration", "radio"), "pipeline": ("enumeration", "select"),
        "closedate": ("datetime", "date"), "createdate": ("datetime", "date"),
        "hs_lastmodifieddate": ("datetime", "date"), "hubspot_owner_id": ("enumeration", "select"),
        "hs_object_id": ("number", "number"),
    },
    "tasks": {
        "hs_timestamp": ("datetime", "date"), "hs_task_subject": ("string", "text"),
        "hs_task_body": ("string", "html"), "hs_task_status": ("enumeration", "select"),
        "hs_task_priority": ("enumeration", "select"), "hs_task_type": ("enumeration", "select"),
        "hubspot_owner_id": ("enumeration", "select"), "hs_createdate": ("datetime", "date"),
        "hs_lastmodifieddate": ("datetime", "date"), "hs_object_id": ("number", "number"),
        "revops_idempotency_key": ("string", "text"),
    },
}  # fmt: skip
# (from, to) -> (default HUBSPOT_DEFINED type id, v3 type label)
ASSOCIATIONS: dict[tuple[str, str], tuple[int, str]] = {
    ("contacts", "deals"): (4, "contact_to_deal"),
    ("deals", "contacts"): (3, "deal_to_contact"),
    ("tasks", "contacts"): (204, "task_to_contact"),
    ("contacts", "tasks"): (203, "contact_to_task"),
    ("tasks", "deals"): (216, "task_to_deal"),
    ("deals", "tasks"): (215, "deal_to_task"),
}
TYPE_ID_PAIRS: dict[int, tuple[str, str]] = {tid: pair for pair, (tid, _) in ASSOCIATIONS.items()}


def iso(at: datetime) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, `Z`."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def parse_time(value: str) -> float | None:
    """Epoch ms from epoch-ms digits, an ISO datetime or an ISO date; None when it is neither."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return float(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000


def sortable(prop: str, value: str | None) -> float | str | None:
    """A comparable key: numbers and dates compare numerically, everything else as text."""
    if value is None or value == "":
        return None
    if prop in DATE_PROPS or prop.startswith(("hs_v2_date_", "hs_date_")):
        return parse_time(value)
    if prop in NUMBER_PROPS:
        try:
            return float(value)
        except ValueError:
            return None
    return value.lower()


def object_type(raw: str) -> str:
    """Canonical plural type for a path segment; unknown types raise KeyError for a 404."""
    return OBJECT_ALIASES[raw.lower()]


ISO_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
