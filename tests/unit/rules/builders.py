"""Small builders for people as the two CRMs send them (raw string properties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.model import Crm, Person, SourceRecord, Stage, StageChange

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=400)


def hubspot(record_id: str = "101", modified: datetime = LONG_AGO, **props: str | None) -> SourceRecord:
    base = {"email": "ada@example.com", "hubspot_owner_id": "hs-owner-1"}
    return SourceRecord(Crm.HUBSPOT, "contacts", record_id, {**base, **props}, modified)


def salesforce(
    object_type: str = "Lead", record_id: str = "00Q1", modified: datetime = LONG_AGO, **props: str | None
) -> SourceRecord:
    base = {"Email": "ada@example.com", "OwnerId": "005OWNER"}
    return SourceRecord(Crm.SALESFORCE, object_type, record_id, {**base, **props}, modified)


def hs_deal(stage: str, record_id: str = "d1", closedate: str | None = None) -> SourceRecord:
    props = {"dealstage": stage, "pipeline": "default", "closedate": closedate}
    return SourceRecord(Crm.HUBSPOT, "deals", record_id, props, LONG_AGO)


def sf_opp(stage: str, record_id: str = "006A", closedate: str | None = None) -> SourceRecord:
    return SourceRecord(
        Crm.SALESFORCE, "Opportunity", record_id, {"StageName": stage, "CloseDate": closedate}, LONG_AGO
    )


def person(
    *records: SourceRecord,
    stage: Stage | None = None,
    entered: datetime | None = None,
    deals: tuple[SourceRecord, ...] = (),
    open_tasks: tuple[str, ...] = (),
    history: tuple[StageChange, ...] | None = None,
) -> Person:
    if history is None:
        history = (StageChange(stage, entered or LONG_AGO, "test"),) if stage is not None else ()
    return Person("p1", "ada@example.com", records, deals, stage, history, open_tasks)
