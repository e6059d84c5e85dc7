"""The planner: fan-out to both CRMs through value maps, no-op suppression, keys, clear-then-set."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from connector.model import (
    Crm,
    Person,
    Provenance,
    SourceRecord,
    Stage,
    StageTransition,
    TargetRef,
    TaskDecision,
)
from connector.push.conflicts import Verdict, judge, supersede
from connector.push.planner import Planner
from connector.push.writes import Outcome, PlannedWrite, WriteKind

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HS_LIFECYCLE = {
    Stage.LEAD: "lead",
    Stage.MQL: "marketingqualifiedlead",
    Stage.SQL: "salesqualifiedlead",
    Stage.RECYCLED: "lead",
}
SF_STATUS = {Stage.LEAD: "Open - Not Contacted", Stage.MQL: "Working - Contacted", Stage.RECYCLED: "Nurture"}


def values(crm: Crm, object_type: str, stage: Stage) -> Mapping[str, str] | None:
    if crm is Crm.HUBSPOT and object_type == "contacts" and stage in HS_LIFECYCLE:
        return {"lifecyclestage": HS_LIFECYCLE[stage]}
    if crm is Crm.SALESFORCE and object_type == "Lead" and stage in SF_STATUS:
        return {"Status": SF_STATUS[stage], "Lifecycle_Stage__c": stage.value}
    return None


def record(crm: Crm, object_type: str, rid: str, **props: str | None) -> SourceRecord:
    return SourceRecord(crm, object_type, rid, props, NOW)


def person(hs_stage: str | None = "lead", sf_status: str | None = "Open - Not Contacted") -> Person:
    return Person(
        "p1",
        "a@example.com",
        (
            record(Crm.HUBSPOT, "contacts", "101", lifecyclestage=hs_stage),
            record(Crm.SALESFORCE, "Lead", "00Q1", Status=sf_status, Lifecycle_Stage__c="lead"),
        ),
    )


def why(rule: str = "mql-score") -> Provenance:
    return Provenance(rule, "v1", {"score": 80}, NOW)


def move(to: Stage, frm: Stage | None = Stage.LEAD) -> StageTransition:
    return StageTransition("p1", frm, to, why())


def test_transition_fans_out_to_every_record_in_both_crms() -> None:
    writes = Planner(values).plan([move(Stage.MQL)], {"p1": person()})
    assert {(w.crm, w.object_type, w.record_id) for w in writes} == {
        (Crm.HUBSPOT, "contacts", "101"),
        (Crm.SALESFORCE, "Lead", "00Q1"),
    }
    sf = next(w for w in writes if w.crm is Crm.SALESFORCE)
    assert sf.properties == {"Status": "Working - Contacted", "Lifecycle_Stage__c": "mql"}
    assert sf.expected == {"Status": "Open - Not Contacted", "Lifecycle_Stage__c": "lead"}


def test_values_already_in_the_crm_plan_nothing() -> None:
    """The echo of our own write (or a person who got there first) is never re-sent."""
    p = Person(
        "p1",
        None,
        (
            record(Crm.HUBSPOT, "contacts", "101", lifecyclestage="marketingqualifiedlead"),
            record(Crm.SALESFORCE, "Lead", "00Q1", Status="Working - Contacted", Lifecycle_Stage__c="mql"),
        ),
    )
    assert Planner(values).plan([move(Stage.MQL)], {"p1": p}) == []


@pytest.mark.parametrize(
    ("current", "target", "clear"),
    [
        ("salesqualifiedlead", Stage.RECYCLED, ("lifecyclestage",)),  # backward: clear, then set
        ("lead", Stage.MQL, ()),  # forward: one request
        ("other", Stage.MQL, ("lifecyclestage",)),  # unknown order: clear to be safe
        (None, Stage.MQL, ()),  # empty: nothing to clear
    ],
)
def test_hubspot_backward_moves_clear_first(
    current: str | None, target: Stage, clear: tuple[str, ...]
) -> None:
    writes = Planner(values).plan([move(target)], {"p1": person(hs_stage=current)})
    hs = next(w for w in writes if w.crm is Crm.HUBSPOT)
    assert hs.clear_first == clear


def test_keys_are_deterministic_and_distinguish_targets_and_versions() -> None:
    plan = Planner(values).plan
    first = [w.key for w in plan([move(Stage.MQL)], {"p1": person()})]
    again = [w.key for w in plan([move(Stage.MQL)], {"p1": person()})]
    assert first == again
    assert len(set(first)) == 2
    v2 = StageTransition("p1", Stage.LEAD, Stage.MQL, Provenance("mql-score", "v2", {}, NOW))
    assert {w.key for w in plan([v2], {"p1": person()})}.isdisjoint(first)


def task(crm: Crm = Crm.HUBSPOT) -> TaskDecision:
    targets = (
        TargetRef(Crm.HUBSPOT, "contacts", "101"),
        TargetRef(Crm.HUBSPOT, "deals", "501"),
        TargetRef(Crm.SALESFORCE, "Lead", "00Q1"),
    )
    return TaskDecision(
        "p1", crm, "Re-approach", "Recycled 90 days ago", NOW, "HIGH", None, targets, why("recycle")
    )


@pytest.mark.parametrize(
    ("crm", "key_field", "expected"),
    [
        (
            Crm.HUBSPOT,
            "revops_idempotency_key",
            {"hs_task_priority": "HIGH", "hs_timestamp": "2026-11-23T10:00:00.000Z"},
        ),
        (
            Crm.SALESFORCE,
            "Revops_Key__c",
            {"Priority": "High", "WhoId": "00Q1", "ActivityDate": "2026-11-23"},
        ),
    ],
)
def test_tasks_carry_their_key_and_only_same_crm_targets(
    crm: Crm, key_field: str, expected: dict[str, str]
) -> None:
    (write,) = Planner(values).plan([task(crm)], {"p1": person()})
    assert write.kind is WriteKind.TASK
    assert write.properties[key_field] == write.key
    assert expected.items() <= write.properties.items()
    assert all(t.crm is crm for t in write.associations)


def test_duplicate_decisions_and_known_tasks_plan_once_or_not_at_all() -> None:
    planner = Planner(values)
    writes = planner.plan([task(), task(), move(Stage.MQL), move(Stage.MQL)], {"p1": person()})
    assert len(writes) == 3
    known = Person("p1", None, person().records, open_tasks=(writes[0].key,))
    assert [w.kind for w in planner.plan([task()], {"p1": known})] == []


def test_write_survives_the_outbox_round_trip() -> None:
    for write in Planner(values).plan(
        [move(Stage.RECYCLED, Stage.SQL), task()], {"p1": person("salesqualifiedlead")}
    ):
        assert PlannedWrite.from_json(write.to_json()) == write


@pytest.mark.parametrize(
    ("mirrored", "verdict"),
    [
        ({"lifecyclestage": "lead"}, Verdict.SEND),  # as decided: send
        ({"lifecyclestage": "marketingqualifiedlead"}, Verdict.APPLIED),  # our write came back
        ({"lifecyclestage": "customer"}, Verdict.CONFLICT),  # a person moved it: keep theirs
        (None, Verdict.SEND),  # not mirrored: let the CRM answer (404 -> dead letter)
    ],
)
def test_judge_human_edits_and_echoes(mirrored: dict[str, str] | None, verdict: Verdict) -> None:
    (hs,) = [w for w in Planner(values).plan([move(Stage.MQL)], {"p1": person()}) if w.crm is Crm.HUBSPOT]
    assert judge(hs, mirrored).verdict is verdict


def test_judge_accepts_our_own_half_done_clear() -> None:
    (hs,) = [
        w
        for w in Planner(values).plan([move(Stage.RECYCLED, Stage.SQL)], {"p1": person("salesqualifiedlead")})
        if w.crm is Crm.HUBSPOT
    ]
    assert judge(hs, {"lifecyclestage": ""}).verdict is Verdict.SEND


def test_a_newer_queued_write_to_the_same_record_supersedes_the_older() -> None:
    planner = Planner(values)
    old = planner.plan([move(Stage.MQL)], {"p1": person()})
    new = planner.plan([move(Stage.SQL, Stage.MQL)], {"p1": person()})
    tasks = planner.plan([task()], {"p1": person()})
    renewed = {w.record_id for w in new}
    assert renewed == {"101"}  # the SQL value map exists for HubSpot only
    kept, dropped = supersede([*old, *tasks, *new])
    assert kept == [w for w in old if w.record_id not in renewed] + [*tasks, *new]
    assert [r.key for r in dropped] == [w.key for w in old if w.record_id in renewed]
    assert all(r.outcome is Outcome.SUPERSEDED for r in dropped)
