"""Cycles against both sandboxes through the real clients: writes land once, in the largest
batches, in the right order; re-runs write nothing; human edits and failures are respected."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app
from connector.mirror.outbox import dead_letters, outbox_counts, requeue
from connector.model import Crm
from connector.push.echo import echo_times
from connector.push.writes import PlannedWrite, WriteKind
from tests.contract.push.harness import Crms, start_crms


def sent_writes(crms: Crms) -> list[PlannedWrite]:
    mirror = crms.mirror()
    with mirror.reader() as s:
        rows = s.connection().exec_driver_sql("SELECT payload FROM outbox WHERE status = 'sent'").all()
    mirror.close()
    return [PlannedWrite.from_json(r[0]) for r in rows]


def crm_values(crms: Crms, write: PlannedWrite) -> dict[str, object]:
    assert write.record_id is not None
    if write.crm is Crm.HUBSPOT:
        return crms.hubspot_contact(write.record_id)
    return crms.salesforce_record(write.object_type, write.record_id)


def assert_in_crm(crms: Crms, writes: list[PlannedWrite]) -> None:
    for write in writes:
        if write.kind is WriteKind.STAGE:
            values = crm_values(crms, write)
            assert {f: values.get(f) for f in write.properties} == dict(write.properties), write.key


def assert_tasks_unique(crms: Crms) -> None:
    for keys in (crms.hubspot_task_keys(), crms.salesforce_task_keys()):
        assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]


def test_cycle_writes_once_and_a_second_cycle_writes_nothing(crms: Crms) -> None:
    first = crms.cycle()
    writes = sent_writes(crms)
    assert len(writes) == first.count_outcome("sent") > 50
    assert {w.crm for w in writes} == {Crm.HUBSPOT, Crm.SALESFORCE}
    assert_in_crm(crms, writes)
    assert crms.hubspot_task_keys() or crms.salesforce_task_keys()
    crms.clear_ledgers()

    second = crms.cycle()

    assert crms.write_calls() == []
    assert second.planned == []
    assert second.relay is not None
    assert second.relay.calls == 0
    assert_tasks_unique(crms)


def test_echo_of_our_write_does_not_make_a_duplicate_record_look_newer(tmp_path: Path) -> None:
    """Dirty data: one person with two Leads whose BANT flags disagree. Facts come from the newest
    duplicate; our write must not turn the other one into 'newest' and trigger a second move."""
    crms = start_crms(tmp_path, people=300, seed=5, dirty=0.5)
    try:
        crms.cycle()
        crms.clear_ledgers()
        second = crms.cycle()
        assert second.planned == []
        assert crms.write_calls() == []
        assert_echoes_follow_the_people_asked_for(crms)
    finally:
        crms.stop()


def assert_echoes_follow_the_people_asked_for(crms: Crms) -> None:
    """A cycle evaluating some people reads the echoes of their records: the same as for everyone."""
    mirror = crms.mirror()
    with mirror.reader() as s:
        everyone = echo_times(s)
        owners = {
            (crm, object_type, record_id): person
            for crm, object_type, record_id, person in s.connection().exec_driver_sql(
                "SELECT crm, object_type, record_id, person_id FROM identities"
            )
        }
        assert len(everyone) >= 2, "the dirty world's writes come back as echoes"
        some = {owners[key] for key in sorted(everyone)[::2]}
        assert echo_times(s, some) == {k: v for k, v in everyone.items() if owners[k] in some}
        assert echo_times(s, []) == {}
    mirror.close()


def test_batches_are_full_and_backward_moves_clear_then_set(crms: Crms) -> None:
    crms.cycle()
    calls = crms.write_calls()
    hs_updates = [c for c in calls if c["path"].endswith("/contacts/batch/update")]
    sf_calls = [c for c in calls if c["crm"] == "salesforce"]
    writes = sent_writes(crms)
    stages = Counter(w.crm for w in writes if w.kind is WriteKind.STAGE)
    clears = [w for w in writes if w.clear_first]
    assert clears, "the seeded world has backward lifecycle moves"
    # ceil(T/100) sets + ceil(B/100) clears on HubSpot; ceil(T/200) updates (+ task upserts) on Salesforce
    assert len(hs_updates) == -(-stages[Crm.HUBSPOT] // 100) + -(-len(clears) // 100)
    assert hs_updates[0]["records_in"] == len(clears)  # the clears go first, in one request
    assert max(c["records_in"] for c in hs_updates) <= 100
    assert len(sf_calls) <= -(-stages[Crm.SALESFORCE] // 200) + 1
    for write in clears:  # the sandbox ignores a backward set that was not cleared first
        assert crm_values(crms, write)["lifecyclestage"] == write.properties["lifecyclestage"]


def test_human_edit_made_while_the_write_was_queued_wins(crms: Crms) -> None:
    queued = crms.cycle(push=False)
    target = next(w for w in queued.planned if "lifecyclestage" in w.properties)
    human = "evangelist" if target.properties["lifecyclestage"] != "evangelist" else "customer"
    assert target.record_id is not None
    edit = {"action": "edit", "type": "contacts", "id": target.record_id}
    crms.admin("hubspot", "POST", "activity", [{**edit, "properties": {"lifecyclestage": human}}])

    crms.cycle()

    assert crms.hubspot_contact(target.record_id)["lifecyclestage"] == human
    mirror = crms.mirror()
    with mirror.reader() as s:
        status, error = (
            s.connection()
            .exec_driver_sql("SELECT status, last_error FROM outbox WHERE key = ?", (target.key,))
            .one()
        )
    mirror.close()
    assert status == "conflict"
    assert "lifecyclestage" in error
    assert human in error


def remove(crms: Crms, write: PlannedWrite) -> None:
    """Someone deletes the record in the CRM after our pull (HubSpot archives, Salesforce deletes)."""
    if write.crm is Crm.HUBSPOT:
        archive = {"action": "archive", "type": "contacts", "id": write.record_id}
        crms.admin("hubspot", "POST", "activity", [archive])
    else:
        getattr(crms.salesforce.client(), write.object_type).delete(write.record_id)


@pytest.mark.parametrize(
    ("crm", "code"), [(Crm.HUBSPOT, "OBJECT_NOT_FOUND"), (Crm.SALESFORCE, "ENTITY_IS_DELETED")]
)
def test_per_record_failures_are_dead_lettered_and_only_they_are_retried(
    crms: Crms, crm: Crm, code: str
) -> None:
    queued = crms.cycle(push=False)
    writes = [w for w in queued.planned if w.crm is crm and w.kind is WriteKind.STAGE]
    gone = writes[1]
    remove(crms, gone)
    crms.clear_ledgers()

    report = crms.cycle(pull=False)  # the mirror does not know: the CRM answers per record

    assert report.count_outcome("dead", crm) >= 1
    mirror = crms.mirror()
    with mirror.reader() as s:
        dead = {d.key: d for d in dead_letters(s, crm)}
    assert gone.key in dead
    assert code in (dead[gone.key].last_error or "")
    assert_in_crm(crms, [w for w in writes if w.key not in dead and not w.clear_first])

    shown = CliRunner().invoke(app, ["errors", "--db", f"sqlite:///{crms.db}", "--crm", crm.value])
    assert shown.exit_code == 0
    assert gone.key in shown.output
    retried = CliRunner().invoke(app, ["retry", gone.key, "--db", f"sqlite:///{crms.db}"])
    assert retried.exit_code == 0
    assert "re-queued 1" in retried.output
    crms.clear_ledgers()

    crms.cycle(pull=False)

    resent = [c for c in crms.write_calls() if c["crm"] == crm.value]
    assert [c["records_in"] for c in resent] == [1]  # only the re-queued record is sent again
    with mirror.reader() as s:
        assert len(dead_letters(s, crm)) == len(dead)
        assert requeue(s, ["no-such-key"]) == 0
    mirror.close()


def test_429_storm_completes_without_errors_or_duplicates(crms: Crms) -> None:
    """30 % of HubSpot calls answer 429 (no Retry-After), 30 % of Salesforce calls 503 (Salesforce
    signals overload with 503; its 429/403 REQUEST_LIMIT_EXCEEDED is the daily quota)."""
    crms.faults("hubspot", [{"path": "^/crm/", "probability": 0.3, "status": 429}], seed=3)
    crms.faults("salesforce", [{"path": "^/services/data/", "probability": 0.3, "status": 503}], seed=3)

    report = crms.cycle()

    injected = [c for c in crms.write_calls() if c["fault"]]
    assert injected, "the storm hit the writes"
    assert report.count_outcome("failed") == 0
    assert report.stopped == []
    assert_in_crm(crms, sent_writes(crms))
    assert_tasks_unique(crms)
    for crm in ("hubspot", "salesforce"):
        crms.admin(crm, "DELETE", "faults")
    crms.clear_ledgers()
    crms.cycle()
    assert crms.write_calls() == []


def test_daily_quota_stops_one_crm_and_says_so(crms: Crms) -> None:
    crms.cycle(push=False)
    crms.hs_app.limits.enforce = True
    crms.hs_app.limits.daily = 1  # already spent by the pull

    report = crms.cycle(pull=False)

    assert any("hubspot" in why and "daily" in why.lower() for why in report.stopped)
    assert report.count_outcome("sent", Crm.SALESFORCE) > 0
    mirror = crms.mirror()
    with mirror.reader() as s:
        waiting = (
            s.connection()
            .exec_driver_sql(
                "SELECT count(*) FROM outbox WHERE crm = 'hubspot' AND status IN ('pending', 'failed')"
            )
            .scalar()
        )
    mirror.close()
    assert (waiting or 0) > 0


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_usage_past_the_share_stops_before_writing(crms: Crms, crm: str) -> None:
    """Past `quota_share` of the day's allowance, that CRM's pushing stops and says so. Salesforce
    answers carry Sforce-Limit-Info, so the pull's usage stops it before any write; HubSpot's
    search answers carry no daily headers, so an incremental pull may leave the usage unknown
    until the first write's answer, and it stops after that one."""
    crms.cycle(push=False)
    crms.clear_ledgers()
    if crm == "hubspot":
        crms.hs_app.limits.daily = 10_000  # its headers: the pull's calls are a small share of it

    share = 0.0 if crm == "salesforce" else 0.00001
    report = crms.cycle(quota_share=share)

    assert [why for why in report.stopped if why.startswith(crm)], report.stopped
    assert len([c for c in crms.write_calls() if c["crm"] == crm]) <= (1 if crm == "hubspot" else 0)


def test_hubspot_usage_under_the_share_does_not_stop(crms: Crms) -> None:
    crms.hs_app.limits.daily = 10_000_000
    report = crms.cycle(quota_share=0.5)
    assert report.stopped == []
    assert report.count_outcome("sent", Crm.HUBSPOT) > 0


def test_plan_shows_what_the_cycle_will_write_and_stores_nothing(crms: Crms) -> None:
    plan = crms.cycle(dry_run=True, pull=True)

    mirror = crms.mirror()
    with mirror.reader() as s:
        assert outbox_counts(s) == {}
        assert s.connection().exec_driver_sql("SELECT count(*) FROM decisions").scalar() == 0
    mirror.close()
    assert crms.write_calls() == []
    assert plan.dry_run
    assert plan.planned

    real = crms.cycle()

    def effects(writes: list[PlannedWrite]) -> list[tuple[object, ...]]:
        """What lands where (keys of timed moves and a HubSpot task's due time carry the cycle's
        clock, so compare effects without them)."""
        return sorted(
            (
                w.crm,
                w.object_type,
                w.record_id,
                sorted(kv for kv in w.properties.items() if kv[0] != "hs_timestamp"),
            )
            for w in writes
        )

    assert effects(real.planned) == effects(plan.planned)
