"""A whole-batch 400 caused by one record is bisected down to that record: it is dead-lettered
with the CRM's message and every other write of the batch still lands."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from connector.mirror.outbox import dead_letters
from connector.model import Crm
from connector.push.writes import PlannedWrite
from tests.contract.push.harness import Crms, outbox, start_crms


@pytest.fixture
def crms(tmp_path: Path) -> Iterator[Crms]:
    sandboxes = start_crms(tmp_path)
    try:
        yield sandboxes
    finally:
        sandboxes.stop()


def corrupt(crms: Crms, write: PlannedWrite) -> PlannedWrite:
    """The outbox row now asks for a lifecycle value HubSpot does not know (a custom stage typo)."""
    bad = replace(write, properties={**write.properties, "lifecyclestage": "typo-stage"})
    mirror = crms.mirror()
    with mirror.transaction() as s:
        sql = "UPDATE outbox SET payload = ? WHERE key = ?"
        s.connection().exec_driver_sql(sql, (bad.to_json(), bad.key))
    mirror.close()
    return bad


def test_one_invalid_value_is_isolated_and_the_rest_of_the_batch_lands(crms: Crms) -> None:
    crms.cycle(push=False)
    queued = [w for status, w in outbox(crms) if w.crm is Crm.HUBSPOT and "lifecyclestage" in w.properties]
    bad = corrupt(crms, queued[len(queued) // 2])
    crms.clear_ledgers()

    report = crms.cycle(pull=False)

    mirror = crms.mirror()
    with mirror.reader() as s:
        dead = {d.key: d.last_error or "" for d in dead_letters(s, Crm.HUBSPOT)}
    mirror.close()
    assert list(dead) == [bad.key]
    assert "typo-" in dead[bad.key]
    assert (
        report.count_outcome("sent", Crm.HUBSPOT)
        == len([w for _, w in outbox(crms) if w.crm is Crm.HUBSPOT]) - 1
    )
    refused = [c for c in crms.write_calls() if c["crm"] == "hubspot" and c["status"] == 400]
    assert 1 <= len(refused) <= 8  # log2(100) + 1 bisection steps at most
