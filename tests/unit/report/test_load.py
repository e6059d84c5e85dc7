"""load.py reads a real mirror (built through the mirror's own repository functions) into facts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.model import Stage
from connector.report.facts import FirstContact, FunnelFacts, RecycleEntry, StageEntry
from connector.report.load import load_facts
from connector.rules.loader import load_mapping
from tests.unit.report.mirror_fixture import RECYCLE, T0, build_mirror


@pytest.fixture
def facts(tmp_path: Path) -> Iterator[tuple[FunnelFacts, str, str]]:
    mirror, a, b = build_mirror(tmp_path / "mirror.db")
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
