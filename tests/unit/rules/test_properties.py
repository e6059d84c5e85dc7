"""Property-based: whatever people look like, the engine's guarantees hold."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.model import (
    LADDER,
    Crm,
    Person,
    SourceRecord,
    Stage,
    StageChange,
    StageTransition,
    ladder_rank,
)
from connector.rules.compiled import Mapping
from connector.rules.conditions import duration
from connector.rules.engine import evaluate
from tests.unit.rules.builders import NOW

AGO = st.integers(min_value=0, max_value=500 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m))
WHEN = st.one_of(AGO.map(datetime.isoformat), AGO.map(lambda d: d.date().isoformat()), st.text(max_size=8))
NUMBER = st.one_of(st.integers(-10, 150).map(str), st.sampled_from(["n/a", "", "1e400", "NaN", "  7 "]))
BOOL = st.sampled_from(["true", "false", "TRUE", "yes", "maybe", ""])


def pick(values: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(values), st.text(max_size=6))


HUBSPOT = st.fixed_dictionaries(
    {"email": st.just("a@example.com")},
    optional={
        "lifecyclestage": pick(
            [
                "subscriber",
                "lead",
                "marketingqualifiedlead",
                "salesqualifiedlead",
                "opportunity",
                "customer",
                "evangelist",
                "other",
            ]
        ),
        "hs_lead_status": pick(["NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "UNQUALIFIED", "BAD_TIMING"]),
        "hubspotscore": NUMBER,
        "jobtitle": st.sampled_from(["CTO", "Engineer", "Head of Sales", ""]),
        "numemployees": NUMBER,
        "notes_last_contacted": WHEN,
        "churn_date": st.one_of(st.none(), WHEN),
        "hubspot_owner_id": st.just("7"),
    },
)
SALESFORCE = st.fixed_dictionaries(
    {"Email": st.just("a@example.com")},
    optional={
        "Status": pick(
            ["Open - Not Contacted", "Working - Contacted", "Closed - Not Converted", "Nurturing"]
        ),
        "Lead_Score__c": NUMBER,
        "Lifecycle_Stage__c": pick(["Lead", "MQL", "SAL", "SQL", "Customer", "Churned", "Recycled"]),
        "Budget_Confirmed__c": BOOL,
        "Authority_Confirmed__c": BOOL,
        "Need_Confirmed__c": BOOL,
        "Timeline_Confirmed__c": BOOL,
        "LastActivityDate": WHEN,
    },
)
DEAL_STAGES = {
    Crm.HUBSPOT: (
        "deals",
        "dealstage",
        "closedate",
        ["appointmentscheduled", "contractsent", "closedwon", "closedlost", "weird"],
    ),
    Crm.SALESFORCE: (
        "Opportunity",
        "StageName",
        "CloseDate",
        ["Prospecting", "Negotiation/Review", "Closed Won", "Closed Lost"],
    ),
}


@st.composite
def people(draw: st.DrawFn) -> Person:
    records = []
    if draw(st.booleans()):
        records.append(SourceRecord(Crm.HUBSPOT, "contacts", "1", draw(HUBSPOT), draw(AGO)))
    if draw(st.booleans()) or not records:
        kind = draw(st.sampled_from(["Lead", "Contact"]))
        records.append(SourceRecord(Crm.SALESFORCE, kind, "00Q", draw(SALESFORCE), draw(AGO)))
    deals = []
    for i in range(draw(st.integers(0, 3))):
        crm = draw(st.sampled_from(list(Crm)))
        object_type, stage_prop, close_prop, stages = DEAL_STAGES[crm]
        props = {stage_prop: draw(st.sampled_from(stages)), close_prop: draw(WHEN)}
        deals.append(SourceRecord(crm, object_type, f"d{i}", props, draw(AGO)))
    stage = draw(st.one_of(st.none(), st.sampled_from(list(Stage))))
    history = (StageChange(stage, draw(AGO)),) if stage is not None and draw(st.integers(0, 9)) else ()
    return Person("p", "a@example.com", tuple(records), tuple(deals), stage, history)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(people())
def test_same_input_same_output_whatever_the_record_order(mapping: Mapping, p: Person) -> None:
    first = evaluate(p, p.history, mapping, NOW)
    assert evaluate(p, p.history, mapping, NOW) == first
    shuffled = Person(p.person_id, p.email, p.records[::-1], p.deals[::-1], p.stage, p.history)
    assert evaluate(shuffled, shuffled.history, mapping, NOW) == first


@FAST
@given(people())
def test_every_transition_names_a_rule_of_this_mapping(mapping: Mapping, p: Person) -> None:
    ids = {r.id for s in ("advance", "recycle", "churn", "tasks") for r in getattr(mapping.model, s)}
    moves = [d for d in evaluate(p, p.history, mapping, NOW) if isinstance(d, StageTransition)]
    assert len(moves) <= 1
    for move in moves:
        assert move.why.rule_id in ids or move.why.rule_id == "value-map:lifecycle_stage"
        assert move.why.mapping_version == mapping.version
        assert move.to_stage != move.from_stage


@FAST
@given(people())
def test_no_demotion_without_a_recycle_or_churn_rule(mapping: Mapping, p: Person) -> None:
    back = {r.id for r in mapping.model.recycle}
    churn = {r.id for r in mapping.model.churn}
    for move in evaluate(p, p.history, mapping, NOW):
        if not isinstance(move, StageTransition) or move.from_stage is None:
            continue
        forward = move.to_stage in LADDER and (
            move.from_stage not in LADDER or ladder_rank(move.to_stage) > ladder_rank(move.from_stage)
        )
        if not forward:
            assert move.why.rule_id in back | churn
        if move.from_stage in {Stage.CUSTOMER, Stage.EVANGELIST} and not forward:
            assert move.why.rule_id in churn


@FAST
@given(people())
def test_recycle_only_after_its_cool_down(mapping: Mapping, p: Person) -> None:
    timers = {r.id: duration(r.after) for r in (*mapping.model.recycle, *mapping.model.churn)}
    for move in evaluate(p, p.history, mapping, NOW):
        if isinstance(move, StageTransition) and move.why.rule_id in timers:
            anchor_at = move.why.inputs["anchor_at"]
            if anchor_at is None:  # only an undelayed rule may fire without a stage-entry time
                assert timers[move.why.rule_id] == timedelta(0)
                continue
            assert NOW - datetime.fromisoformat(str(anchor_at)) >= timers[move.why.rule_id]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "lifecyclestage",
                "hubspotscore",
                "notes_last_contacted",
                "hs_lead_status",
                "numemployees",
                "churn_date",
                "jobtitle",
            ]
        ),
        st.text(max_size=30),
    ),
    st.one_of(st.none(), st.sampled_from(list(Stage))),
)
def test_arbitrary_text_never_raises(mapping: Mapping, props: dict[str, str], stage: Stage | None) -> None:
    p = Person(
        "p",
        None,
        (SourceRecord(Crm.HUBSPOT, "contacts", "1", props, NOW),),
        (),
        stage,
        (StageChange(stage, NOW - timedelta(days=400)),) if stage else (),
    )
    for decision in evaluate(p, p.history, mapping, NOW):
        assert decision.why.decided_at == NOW
