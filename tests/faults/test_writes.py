"""Write-side faults: a write that times out (scenario 3) and a Salesforce collection where one
record fails (scenarios 4 and 12: allOrNone=false, the record deleted since it was mirrored)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from connector.mirror.outbox import dead_letters
from connector.model import Crm
from connector.push.writes import WriteKind
from tests.contract.push.harness import Crms
from tests.faults.invariants import RecordProperty, losses, started

STALL = 1.0  # the server applies the request this long after the client (timeout 0.3 s) gave up
CLEAR_STALL = 4.0  # long enough that the next cycle runs while the stalled clear is in flight
UPDATE = "/contacts/batch/update"


@pytest.mark.scenario(3)
def test_salesforce_write_timeout_never_duplicates(tmp_path: Path, record_property: RecordProperty) -> None:
    """The CRM applies the write after the client gave up; the retry must not apply it twice."""
    with started(tmp_path) as crms:
        crms.faults("salesforce", [{"path": "/composite/sobjects", "stall_seconds": STALL, "limit": 1}])
        crms.cycle(crms.clients(timeout=0.3))
        time.sleep(STALL + 0.2)  # the stalled request has landed
        assert _stalled(crms, "salesforce", "/composite/sobjects", STALL), "the stalled write was never sent"
        crms.cycle()
        lost = losses(crms)
        crms.clear_ledgers()
        crms.cycle()
        lost += [f"still writing: {c['path']}" for c in crms.write_calls()]
        record_property("lost", len(lost))
        assert lost == []


@pytest.mark.scenario(3)
def test_hubspot_clear_that_times_out_is_never_overtaken_by_its_set(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    """A backward lifecycle move is a clear, then a set. The clear times out, but HubSpot applies
    it later: a set sent before then would be emptied by it. The next cycle, run while the clear
    is still in flight, must wait; once the mirror shows the field cleared, only the set follows."""
    with started(tmp_path) as crms:
        crms.faults("hubspot", [{"path": UPDATE, "stall_seconds": CLEAR_STALL, "limit": 1}])
        first = crms.cycle(crms.clients(timeout=0.3))
        ambiguous = first.count_outcome("unknown", Crm.HUBSPOT)
        assert ambiguous, "no backward move in the seeded world: nothing was cleared"

        crms.cycle()  # at once: the stalled clear is still in flight
        _wait_until_stalled_lands(crms, "hubspot", UPDATE, CLEAR_STALL)
        crms.cycle()
        lost = losses(crms)
        crms.clear_ledgers()
        crms.cycle()
        lost += [f"still writing: {c['path']}" for c in crms.write_calls()]
        record_property("lost", len(lost))
        assert lost == []


def _stalled(crms: Crms, crm: str, path: str, stall: float) -> list[dict[str, Any]]:
    """The stalled calls the sandbox has finished (its ledger records a call once it is applied)."""
    calls = crms.write_calls()
    return [c for c in calls if c["crm"] == crm and path in c["path"] and c["ms"] >= stall * 1000]


def _wait_until_stalled_lands(crms: Crms, crm: str, path: str, stall: float, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not _stalled(crms, crm, path, stall):
        assert time.monotonic() < deadline, "the stalled request never finished"
        time.sleep(0.1)


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
