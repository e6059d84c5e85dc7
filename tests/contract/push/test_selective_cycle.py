"""A cycle evaluates only the people who need it, against both sandboxes through the real clients.

The oracle for every selective cycle is a dry run that evaluates everyone (`sweep_every=0`, the
behaviour before selection) on the same mirror: the selective cycle must decide exactly the
transitions and tasks it decides (skipped-value decisions repeat for everyone and change nothing).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.mirror.audit import current_stages
from connector.mirror.identity import email_person_id
from connector.mirror.linkqueue import queued_keys
from connector.mirror.people import resolve_person
from connector.mirror.records import upsert_page
from connector.model import Crm, SourceRecord
from connector.rules.fields import parse_datetime
from connector.rules.loader import DEFAULT_MAPPING, load_texts
from connector.sync import CycleReport
from tests.contract.push.harness import Crms


def acting(report: CycleReport) -> Counter[tuple[str, str]]:
    """Transitions and tasks by rule (what reaches the stage history or a CRM)."""
    return Counter({k: n for k, n in report.decisions.items() if k[0] != "skipped"})


def checked_cycle(crms: Crms, **kw: Any) -> CycleReport:
    """Pull (unless pull=False), then a dry run over everyone, then the selective cycle from the
    same mirror: their transitions, tasks and planned writes must be the same."""
    pull = kw.pop("pull", True)
    oracle = crms.cycle(dry_run=True, pull=pull, **{**kw, "sweep_every": timedelta(0)})
    assert oracle.people_unchanged == 0  # everyone evaluated
    real = crms.cycle(pull=False, **kw)
    assert acting(real) == acting(oracle)
    assert sorted(w.key for w in real.planned) == sorted(w.key for w in oracle.planned)
    return real


def evaluated_in(crms: Crms, report: CycleReport) -> set[str]:
    mirror = crms.mirror()
    with mirror.reader() as s:
        rows = s.connection().exec_driver_sql(
            "SELECT person_id FROM evaluations WHERE evaluated_run_id = ?", (report.run_id,)
        )
        found = {r[0] for r in rows}
    mirror.close()
    return found


def settle(crms: Crms) -> CycleReport:
    """Cycles until one plans nothing (the first evaluates everyone, the next reads its echoes).

    Cycles that pull run at the wall clock's now: the pull reads changes up to the cycle's now."""
    for _ in range(4):
        report = crms.cycle()
        if not report.planned:
            return report
    raise AssertionError("no quiet cycle after 4")


def test_a_cycle_with_no_change_evaluates_nobody_and_writes_nothing(crms: Crms) -> None:
    first = crms.cycle()
    assert first.people > 100
    assert first.people_unchanged == 0
    settle(crms)
    crms.clear_ledgers()

    quiet = crms.cycle()

    assert (quiet.people, quiet.people_unchanged) == (0, first.people)
    assert quiet.planned == []
    assert quiet.outbox_new == 0
    assert crms.write_calls() == []
    assert f"people evaluated: 0 (unchanged, skipped: {first.people})" in quiet.summary()


def test_people_edited_in_a_sandbox_are_evaluated_and_almost_no_one_else(crms: Crms) -> None:
    settle(crms)
    rng = random.Random(3)
    contacts = rng.sample(sorted(crms.hs_app.store.records["contacts"]), 4)
    leads = rng.sample(sorted(str(r["Id"]) for r in crms.sf_app.store.live("Lead")), 4)
    promote = {"hubspotscore": "93", "jobtitle": "CTO"}
    crms.admin("hubspot", "POST", "activity", [
        {"action": "edit", "type": "contacts", "id": str(rid), "properties": promote} for rid in contacts
    ])  # fmt: skip
    crms.admin("salesforce", "POST", "activity", [
        {"action": "edit", "type": "Lead", "id": rid, "fields": {"Lead_Score__c": "94", "Title": "VP Sales"}}
        for rid in leads
    ])  # fmt: skip
    mirror = crms.mirror()
    with mirror.reader() as s:
        edited = {resolve_person(s, f"hubspot:contacts:{rid}") for rid in contacts}
        edited |= {resolve_person(s, f"salesforce:Lead:{rid}") for rid in leads}
    mirror.close()

    report = checked_cycle(crms)

    assert None not in edited
    assert edited <= evaluated_in(crms, report)
    assert report.people <= len(edited) + 4  # a handful: people sharing a deal or an account
    assert report.planned  # the scores promote some of them


def test_a_timer_falling_between_two_cycles_fires_in_the_cycle_after_it(crms: Crms) -> None:
    """Nothing changes in the CRMs; only time moves. MQLs get their 24h SLA task, then the 30-day
    recycle, in the first cycle after each timer, and nobody else is evaluated for it."""
    # The seeded MQLs entered their stage long ago (the first cycle recycles them): make a few
    # enter it now, HubSpot dating the entry (hs_v2_date_entered_marketingqualifiedlead).
    leads = [
        str(rid)
        for rid, rec in sorted(crms.hs_app.store.records["contacts"].items())
        if rec.props.get("lifecyclestage") == "lead" and rec.props.get("hs_lead_status") in (None, "NEW")
    ][:6]
    assert leads
    t0 = datetime.now(UTC)
    mql = {"lifecyclestage": "marketingqualifiedlead"}
    crms.admin("hubspot", "POST", "activity", [
        {"action": "edit", "type": "contacts", "id": rid, "properties": mql} for rid in leads
    ])  # fmt: skip
    settle(crms)
    mirror = crms.mirror()
    with mirror.reader() as s:
        mqls = {
            r[0]
            for r in s.connection().exec_driver_sql("SELECT person_id FROM person_stages WHERE stage = 'mql'")
        }
        stages = current_stages(s)
        fresh = {pid: rid for rid in leads if (pid := resolve_person(s, f"hubspot:contacts:{rid}"))}
    mirror.close()
    assert mqls
    dated = [(stages[pid].at, crms.hubspot_contact(rid)) for pid, rid in fresh.items() if pid in mqls]
    assert dated  # a person also in Salesforce may have moved on by its evidence; the others have not
    for since, contact in dated:  # the stage dates from HubSpot's entry, not from the cycle
        assert since == parse_datetime(contact["hs_v2_date_entered_marketingqualifiedlead"])
    no_sweep: dict[str, Any] = {"pull": False, "sweep_every": None}

    before = checked_cycle(crms, now=t0 + timedelta(hours=23), **no_sweep)
    sla = checked_cycle(crms, now=t0 + timedelta(hours=25), **no_sweep)
    again = crms.cycle(now=t0 + timedelta(hours=26), pull=False, sweep_every=None)
    recycle = checked_cycle(crms, now=t0 + timedelta(days=30, hours=1), **no_sweep)

    assert before.decisions["task", "mql-speed-to-lead-24h"] == 0
    assert before.people < len(mqls)  # timers of other rules (a lost deal's cool-down...) only
    assert sla.decisions["task", "mql-speed-to-lead-24h"] > 0
    assert evaluated_in(crms, sla) <= mqls  # only people whose timer was due
    assert again.people == 0  # their own tasks are open: nothing to decide again
    assert again.planned == []
    assert recycle.decisions["transition", "mql-no-sal-30d"] > 0


def test_the_periodic_sweep_evaluates_everyone(crms: Crms) -> None:
    t0 = datetime.now(UTC)
    quiet = settle(crms)
    total = quiet.people + quiet.people_unchanged
    assert crms.cycle(now=t0 + timedelta(hours=5), pull=False).people < total
    swept = checked_cycle(crms, now=t0 + timedelta(hours=7), pull=False)
    assert (swept.people, swept.people_unchanged) == (total, 0)


def test_a_mapping_change_re_evaluates_everyone(crms: Crms) -> None:
    quiet = settle(crms)
    total = quiet.people + quiet.people_unchanged
    extra = "tasks:\n  - id: sql-nudge\n    stages: [sql]\n    since: stage_entered\n    after: 3d\n"
    extra += "    task: {subject: 'Nudge $email', body: '$rule', due_in: 1d, priority: LOW, crm: [hubspot]}\n"
    changed, problems = load_texts({str(DEFAULT_MAPPING): DEFAULT_MAPPING.read_text(), "extra.yaml": extra})
    assert problems == []
    assert changed is not None
    crms.mapping = changed

    report = checked_cycle(crms)
    after = crms.cycle()

    assert (report.people, report.people_unchanged) == (total, 0)
    assert after.people < total // 10


def test_a_cycle_links_what_a_killed_pull_left_queued_before_it_evaluates(crms: Crms) -> None:
    settle(crms)
    contact = SourceRecord(
        Crm.HUBSPOT, "contacts", "990001", {"email": "queued@example.com", "lifecyclestage": "lead"},
        datetime.now(UTC),
    )  # fmt: skip
    mirror = crms.mirror()
    with mirror.transaction() as s:  # a pull killed after this page: its person is still queued
        upsert_page(s, None, [contact], defer_links=True)
    mirror.close()

    report = crms.cycle(pull=False)

    assert email_person_id("queued@example.com") in evaluated_in(crms, report)
    mirror = crms.mirror()
    with mirror.reader() as s:
        assert not queued_keys(s)
        assert resolve_person(s, "hubspot:contacts:990001") == email_person_id("queued@example.com")
    mirror.close()
