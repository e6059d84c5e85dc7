"""load.py reads a real mirror (built through the mirror's own repository functions) into facts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector import mirror as m
from connector.model import Crm, Provenance, SourceRecord, Stage, StageTransition
from connector.report.facts import FirstContact, FunnelFacts, RecycleEntry, StageEntry
from connector.report.load import load_facts
from connector.rules.loader import load_mapping

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
RECYCLE = "mql-no-sql-30d"


def rec(
    crm: Crm, kind: str, rid: str, minutes: int, assoc: dict[str, tuple[str, ...]] | None = None, **props: str
) -> SourceRecord:
    return SourceRecord(crm, kind, rid, props, T0 + timedelta(minutes=minutes), associations=assoc or {})


def move(person: str, frm: Stage | None, to: Stage, minutes: int, rule: str = "r") -> StageTransition:
    why = Provenance(rule, "v1", {}, T0 + timedelta(minutes=minutes))
    return StageTransition(person, frm, to, why)


@pytest.fixture
def facts(tmp_path: Path) -> Iterator[tuple[FunnelFacts, str, str]]:
    mirror = m.open_mirror(f"sqlite:///{tmp_path / 'mirror.db'}")
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
    with mirror.reader() as s:
        yield load_facts(s, load_mapping()), a, b
    mirror.close()


def test_stage_entries_and_recycles_come_from_stage_history(facts: tuple[FunnelFacts, str, str]) -> None:
    f, a, b = facts
    assert sorted(f.stage_entries, key=lambda e: (e.person_id == b, e.entered_at)) == [
        StageEntry(a, Stage.LEAD, T0, "r"),
        StageEntry(a, Stage.MQL, T0 + timedelta(minutes=60), "r"),
        StageEntry(b, Stage.MQL, T0, "r"),
        StageEntry(b, Stage.RECYCLED, T0 + timedelta(minutes=120), RECYCLE),
    ]
    assert f.recycles == (RecycleEntry(b, RECYCLE, T0 + timedelta(minutes=120)),)


def test_first_contact_is_the_first_working_lead_status(facts: tuple[FunnelFacts, str, str]) -> None:
    f, a, b = facts
    # HubSpot: ATTEMPTED_TO_CONTACT at +70 min (CONNECTED at +900 is later);
    # Salesforce: Working - Contacted at +80
    assert sorted(f.first_contacts, key=lambda c: c.at) == [
        FirstContact(a, T0 + timedelta(minutes=70)),
        FirstContact(b, T0 + timedelta(minutes=80)),
    ]


def test_deals_get_phase_outcome_amount_and_person(facts: tuple[FunnelFacts, str, str]) -> None:
    f, a, _ = facts
    deals = {d.deal_id: d for d in f.deals}
    won = deals["hubspot:201"]
    assert (won.person_id, won.won, won.phase, won.amount) == (a, True, None, 1200.0)
    assert won.closed_at == T0 + timedelta(minutes=600)  # first version that showed closedwon
    assert won.created_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    sf = deals["salesforce:006X"]
    assert (sf.person_id, sf.won, sf.phase, sf.amount, sf.closed_at) == (None, None, 5, 500.0, None)
    assert sf.created_at == datetime(2026, 11, 2, 9, 40, tzinfo=UTC)
