"""Clock skew and a non-UTC host (scenario 11): the connector's clock decides nothing about what
was changed; the CRMs' own timestamps do, so edits made around a skewed or local-time clock are
all read."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.contract.push.harness import Crms
from tests.faults.invariants import RecordProperty, losses, run_child, started

SCORE = "77"


def edit_both(crms: Crms, rng: random.Random) -> dict[str, list[str]]:
    """Score edits in both CRMs; returns the edited ids per CRM."""
    hs = rng.sample(sorted(str(r) for r in crms.hs_app.store.records["contacts"]), 5)
    sf = rng.sample(sorted(str(r["Id"]) for r in crms.sf_app.store.live("Lead")), 5)
    crms.admin("hubspot", "POST", "activity", [
        {"action": "edit", "type": "contacts", "id": rid, "properties": {"hubspotscore": SCORE}} for rid in hs
    ])  # fmt: skip
    crms.admin("salesforce", "POST", "activity", [
        {"action": "edit", "type": "Lead", "id": rid, "fields": {"Lead_Score__c": SCORE}} for rid in sf
    ])  # fmt: skip
    return {"hubspot": hs, "salesforce": sf}


def missed(crms: Crms, edited: dict[str, list[str]]) -> list[str]:
    """Edited records whose latest mirrored version does not hold the edit."""
    field = {"hubspot": "hubspotscore", "salesforce": "Lead_Score__c"}
    mirror = crms.mirror()
    out = []
    with mirror.reader() as s:
        for crm, ids in edited.items():
            for rid in ids:
                row = (
                    s.connection()
                    .exec_driver_sql(
                        "SELECT properties FROM records WHERE crm = ? AND record_id = ?", (crm, rid)
                    )
                    .first()
                )
                value = json.loads(row[0]).get(field[crm]) if row else None
                if str(value) != SCORE:
                    out.append(f"{crm} {rid}: mirror holds {value!r}")
    mirror.close()
    return out


@pytest.mark.scenario(11)
@pytest.mark.parametrize(
    "skew_minutes", [10, pytest.param(-10, marks=pytest.mark.slow)], ids=["ahead", "behind"]
)
def test_skewed_clock_misses_nothing(
    tmp_path: Path, skew_minutes: int, record_property: RecordProperty
) -> None:
    with started(tmp_path) as crms:
        skew = timedelta(minutes=skew_minutes)
        crms.cycle(now=datetime.now(UTC) + skew)
        edited = edit_both(crms, random.Random(skew_minutes))
        crms.cycle(now=datetime.now(UTC) + skew)
        crms.cycle()  # the clock corrected: nothing may have been skipped over meanwhile
        lost = missed(crms, edited) + losses(crms)
        record_property("lost", len(lost))
        assert lost == []


@pytest.mark.scenario(11)
@pytest.mark.parametrize(
    "tz", ["America/Los_Angeles", pytest.param("Asia/Kathmandu", marks=pytest.mark.slow)]
)
def test_non_utc_host_misses_nothing(tmp_path: Path, tz: str, record_property: RecordProperty) -> None:
    with started(tmp_path) as crms:
        code, err = run_child(crms, env={"TZ": tz})
        assert code == 0, err[-1500:]
        edited = edit_both(crms, random.Random(1))
        code, err = run_child(crms, env={"TZ": tz})
        assert code == 0, err[-1500:]
        lost = missed(crms, edited) + losses(crms)
        record_property("lost", len(lost))
        assert lost == []
