"""Rate-limit storms and 5xx outages over a whole cycle, pull and push (scenarios 1 and 2)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from connector.errors import ConnectorError
from connector.mirror.cursors import all_cursors
from tests.contract.push.harness import Crms
from tests.faults.invariants import RecordProperty, losses, started, work


def cursors(crms: Crms) -> dict[str, tuple[str, str | None]]:
    mirror = crms.mirror()
    with mirror.reader() as s:
        found = {c.stream: (c.value, c.last_id) for c in all_cursors(s)}
    mirror.close()
    return found


def converged_and_quiet(crms: Crms) -> list[str]:
    """No loss, and a further cycle without faults writes nothing."""
    for crm in ("hubspot", "salesforce"):
        crms.admin(crm, "DELETE", "faults")
    lost = losses(crms)
    crms.clear_ledgers()
    crms.cycle()
    return lost + [f"still writing: {c['crm']} {c['path']}" for c in crms.write_calls()]


@pytest.mark.scenario(1)
@pytest.mark.parametrize("retry_after", [0.05, None], ids=["with-retry-after", "without-retry-after"])
def test_rate_limit_storm_on_a_whole_cycle(
    tmp_path: Path, retry_after: float | None, record_property: RecordProperty
) -> None:
    """30% of every HubSpot call answers 429 TEN_SECONDLY; the cycle completes with nothing lost."""
    with started(tmp_path) as crms:
        storm: dict[str, Any] = {"path": "^/crm/", "probability": 0.3, "status": 429}
        if retry_after is not None:
            storm["retry_after"] = retry_after
        crms.faults("hubspot", [storm], seed=5)

        report = crms.cycle()

        throttled = [e for e in crms.admin("hubspot", "GET", "ledger") if e["fault"]]
        assert throttled, "the storm never hit"
        assert report.count_outcome("failed") == 0
        assert report.stopped == []
        lost = converged_and_quiet(crms)
        record_property("lost", len(lost))
        assert lost == []


@pytest.mark.scenario(2)
def test_search_outage_fails_the_cycle_and_keeps_the_cursor(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    """Search answers 503 past the retry cap: the cycle fails, writes nothing, keeps HubSpot's
    cursors; the next run reads the edits made meanwhile."""
    with started(tmp_path) as crms:
        crms.cycle()
        work(crms, random.Random(3))
        before = cursors(crms)
        crms.faults("hubspot", [{"path": "/search$", "status": 503}])
        crms.clear_ledgers()

        with pytest.raises(ConnectorError):
            crms.cycle()

        assert crms.write_calls() == []
        after = cursors(crms)
        assert {k: v for k, v in after.items() if k.startswith("hubspot.") and "archived" not in k} == {
            k: v for k, v in before.items() if k.startswith("hubspot.") and "archived" not in k
        }
        crms.admin("hubspot", "DELETE", "faults")
        recovered = crms.cycle()
        assert recovered.records_pulled.get("hubspot.contacts", 0) >= 6  # the edits made during the outage
        lost = converged_and_quiet(crms)
        record_property("lost", len(lost))
        assert lost == []
