"""kill -9 between the pull and the evaluation (scenario 5): the pull committed people's edits and
moved the cursors, so the next cycle's pull does not see them again; the change log the pull wrote
in the same transactions still selects them, and their decisions are made and written."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from connector.mirror.people import resolve_person
from connector.push.crash import ENV, EXIT_CODE
from tests.contract.push.harness import Crms
from tests.faults.invariants import RecordProperty, losses, run_child, settled_to_rules, started, work


def edited_people(crms: Crms, rng: random.Random) -> set[str]:
    """`work` on both CRMs; returns the person ids of the records it edited."""
    before = {k: dict(r.props) for k, r in crms.hs_app.store.records["contacts"].items()}
    leads = {str(r["Id"]): dict(r) for r in crms.sf_app.store.live("Lead")}
    work(crms, rng)
    keys = [
        f"hubspot:contacts:{k}"
        for k, r in crms.hs_app.store.records["contacts"].items()
        if before.get(k) != dict(r.props)
    ]
    keys += [f"salesforce:Lead:{i}" for i, r in leads.items() if crms.sf_app.store.get("Lead", i) != r]
    mirror = crms.mirror()
    with mirror.reader() as s:
        found = {resolve_person(s, key) for key in keys}
    mirror.close()
    assert None not in found
    return {p for p in found if p is not None}


# versions the mirror keeps (1 .. version_no of each record: superseded ones and the current)
VERSIONS = "SELECT sum(version_no) FROM records"


def sql(crms: Crms, query: str, *params: object) -> list[object]:
    mirror = crms.mirror()
    with mirror.reader() as s:
        found = list(s.connection().exec_driver_sql(query, params).scalars())
    mirror.close()
    return found


@pytest.mark.scenario(5)
def test_kill_9_between_pull_and_evaluation_loses_no_evaluation(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    with started(tmp_path) as crms:
        for _ in range(3):  # settle: the first cycle decides for everyone, the next read its echoes
            if not crms.cycle().planned:
                break
        edited = edited_people(crms, random.Random(5))

        before = sql(crms, VERSIONS)
        code, err = run_child(crms, env={ENV: "after_pull"})
        assert code == EXIT_CODE, err[-2000:]
        assert sql(crms, VERSIONS) > before  # the edits were pulled and committed before the kill
        recovery = crms.cycle()

        evaluated = sql(crms, "SELECT person_id FROM evaluations WHERE evaluated_run_id = ?", recovery.run_id)
        assert edited <= set(evaluated)
        assert recovery.planned  # the promotions the edits earn
        lost = losses(crms) + settled_to_rules(crms)
        record_property("lost", len(lost))
        assert lost == []
