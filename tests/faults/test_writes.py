"""Write-side faults: a write that times out (scenario 3) and a Salesforce collection where one
record fails (scenarios 4 and 12: allOrNone=false, the record deleted since it was mirrored)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from connector.mirror.outbox import dead_letters
from connector.model import Crm
from connector.push.writes import WriteKind
from tests.faults.invariants import RecordProperty, losses, started

STALL = 1.0  # the server applies the request this long after the client (timeout 0.3 s) gave up


@pytest.mark.scenario(3)
@pytest.mark.parametrize(
    ("crm", "path"),
    [
        pytest.param(
            "hubspot",
            "/contacts/batch/update",
            marks=[
                pytest.mark.slow,
                pytest.mark.xfail(
                    strict=False,  # timing-dependent: seen failing with a 1 s stall, passing with 3 s
                    reason="connector/push/relay.py:151: the clear of a backward lifecycle move times "
                    "out, the transport retry succeeds and the set follows at once, then the stalled "
                    "original clear lands last: lifecyclestage left '' while the outbox says sent "
                    "(the late clear lands close enough to our write to pass for its echo)",
                ),
            ],
        ),
        ("salesforce", "/composite/sobjects"),
    ],
    ids=["hubspot-clear-then-set", "salesforce-collection"],
)
def test_write_timeouts_never_duplicate(
    tmp_path: Path, crm: str, path: str, record_property: RecordProperty
) -> None:
    """The CRM applies the write after the client gave up; the retry must not apply it twice."""
    with started(tmp_path) as crms:
        crms.faults(crm, [{"path": path, "stall_seconds": STALL, "limit": 1}])
        first = crms.cycle(crms.clients(timeout=0.3))
        stalled = [c for c in crms.write_calls() if c["crm"] == crm and path in c["path"]]
        assert stalled, "the stalled write was never sent"
        assert first.relay is not None
        time.sleep(STALL + 0.2)  # the stalled request has landed
        crms.cycle()
        lost = losses(crms)
        crms.clear_ledgers()
        crms.cycle()
        lost += [f"still writing: {c['path']}" for c in crms.write_calls()]
        record_property("lost", len(lost))
        assert lost == []


@pytest.mark.scenario(4)
def test_salesforce_partial_failure_is_dead_lettered(tmp_path: Path, record_property: RecordProperty) -> None:
    with started(tmp_path) as crms:
        queued = crms.cycle(push=False)
        stages = [w for w in queued.planned if w.crm is Crm.SALESFORCE and w.kind is WriteKind.STAGE]
        assert len(stages) >= 2, "the seeded world gave too few Salesforce stage writes"
        gone = stages[0]
        delete = {"action": "delete", "type": gone.object_type, "id": gone.record_id}
        crms.admin("salesforce", "POST", "activity", [delete])

        report = crms.cycle(pull=False)  # the mirror does not know: Salesforce answers per record

        assert report.count_outcome("dead", Crm.SALESFORCE) == 1
        mirror = crms.mirror()
        with mirror.reader() as s:
            dead = {d.key: d for d in dead_letters(s, Crm.SALESFORCE)}
        mirror.close()
        assert set(dead) == {gone.key}
        assert "ENTITY_IS_DELETED" in (dead[gone.key].last_error or "")
        lost = losses(crms)  # every other write of the same collections landed
        record_property("lost", len(lost))
        assert lost == []
