"""A tiny mirror built through the mirror's own repository functions (no SQL of our own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector import mirror as m
from connector.model import Crm, Provenance, SourceRecord, Stage, StageTransition

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
RECYCLE = "mql-no-sql-30d"


def rec(
    crm: Crm, kind: str, rid: str, minutes: int, assoc: dict[str, tuple[str, ...]] | None = None, **props: str
) -> SourceRecord:
    return SourceRecord(crm, kind, rid, props, T0 + timedelta(minutes=minutes), associations=assoc or {})


def move(person: str, frm: Stage | None, to: Stage, minutes: int, rule: str = "r") -> StageTransition:
    why = Provenance(rule, "v1", {}, T0 + timedelta(minutes=minutes))
    return StageTransition(person, frm, to, why)


def build_mirror(path: Path) -> tuple[m.Mirror, str, str]:
    """Two people, two deals, three pulls and four stage moves, through the mirror's own API."""
    mirror = m.open_mirror(f"sqlite:///{path}")
    deal = {"dealname": "D", "createdate": "2026-11-02T09:30:00Z", "amount": "1000", "pipeline": "default"}
    pages = [
        [
            rec(Crm.HUBSPOT, "contacts", "101", 0, email="a@x.io", hs_lead_status="NEW"),
            rec(Crm.SALESFORCE, "Lead", "00Q1", 0, Email="b@x.io", Status="Open - Not Contacted"),
            rec(
                Crm.HUBSPOT,
                "deals",
                "201",
                30,
                {"contacts": ("101",)},
                dealstage="appointmentscheduled",
                **deal,
            ),
            rec(
                Crm.SALESFORCE,
                "Opportunity",
                "006X",
                40,
                StageName="Negotiation/Review",
                Amount="500",
                CreatedDate="2026-11-02T09:40:00.000+0000",
            ),
        ],
        [  # second pull: IS worked both people, the HubSpot deal closed won
            rec(Crm.HUBSPOT, "contacts", "101", 70, email="a@x.io", hs_lead_status="ATTEMPTED_TO_CONTACT"),
            rec(Crm.SALESFORCE, "Lead", "00Q1", 80, Email="b@x.io", Status="Working - Contacted"),
            rec(Crm.HUBSPOT, "deals", "201", 600, {"contacts": ("101",)}, dealstage="closedwon", **deal),
        ],
        [  # a later edit keeps it won: the close time stays the first won version's
            rec(Crm.HUBSPOT, "contacts", "101", 900, email="a@x.io", hs_lead_status="CONNECTED"),
            rec(
                Crm.HUBSPOT,
                "deals",
                "201",
                900,
                {"contacts": ("101",)},
                dealstage="closedwon",
                **{**deal, "amount": "1200"},
            ),
        ],
    ]
    with mirror.transaction() as s:
        run = m.start_run(s, "sync")
        for page in pages:
            m.upsert_page(s, run, page)
        a, b = m.resolve_person(s, "a@x.io"), m.resolve_person(s, "b@x.io")
        assert a is not None
        assert b is not None
        m.save_decisions(
            s,
            run,
            [
                move(a, None, Stage.LEAD, 0),
                move(a, Stage.LEAD, Stage.MQL, 60),
                move(b, None, Stage.MQL, 0),
                move(b, Stage.MQL, Stage.RECYCLED, 120, RECYCLE),
            ],
        )
    return mirror, a, b
