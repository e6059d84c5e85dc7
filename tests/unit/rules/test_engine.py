"""Table-driven: every rule of the shipped mapping, firing and not firing, plus skip paths."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict, cast

import pytest

from connector.model import Crm, Person, SourceRecord, Stage, StageTransition, TargetRef, TaskDecision
from connector.rules.compiled import Mapping
from connector.rules.engine import evaluate, task_key, transition_key
from connector.rules.loader import DEFAULT_MAPPING, load_texts
from tests.unit.rules.builders import NOW, hs_deal, hubspot, person, salesforce, sf_opp

H = timedelta(hours=1)
D = timedelta(days=1)
BANT = ("Budget_Confirmed__c", "Authority_Confirmed__c", "Need_Confirmed__c", "Timeline_Confirmed__c")


class BantFlags(TypedDict):
    """Typed by key (as is Contacted), so `**` into a builder cannot be taken for its `modified`."""

    Budget_Confirmed__c: str
    Authority_Confirmed__c: str
    Need_Confirmed__c: str
    Timeline_Confirmed__c: str


class Contacted(TypedDict):
    notes_last_contacted: str


def bant(n: int) -> BantFlags:
    return cast("BantFlags", {flag: "true" if i < n else "false" for i, flag in enumerate(BANT)})


CONTACTED: Contacted = {"notes_last_contacted": (NOW - 2 * H).isoformat()}

Expected = tuple[str, str, Stage | None] | None

# (case id, person, expected: None or (kind, rule id, target stage or None))
CASES: list[tuple[str, Person, Expected]] = [
    (
        "lead-known",
        person(hubspot(lifecyclestage="subscriber"), stage=Stage.SUBSCRIBER),
        ("transition", "lead-known", Stage.LEAD),
    ),
    (
        "mql-score by title",
        person(hubspot(lifecyclestage="lead", hubspotscore="75", jobtitle="Head of IT"), stage=Stage.LEAD),
        ("transition", "mql-score", Stage.MQL),
    ),
    (
        "mql-score by company size",
        person(hubspot(hubspotscore="60", numemployees="200", jobtitle="Engineer"), stage=Stage.LEAD),
        ("transition", "mql-score", Stage.MQL),
    ),
    (
        "mql-score below threshold",
        person(hubspot(hubspotscore="59", jobtitle="Head of IT"), stage=Stage.LEAD),
        None,
    ),
    (
        "mql-score attributes missing",
        person(hubspot(hubspotscore="90", jobtitle="Engineer"), stage=Stage.LEAD),
        None,
    ),
    (
        "unqualified lead is disqualified, not MQL",
        person(hubspot(hubspotscore="90", jobtitle="CTO", hs_lead_status="UNQUALIFIED"), stage=Stage.LEAD),
        ("transition", "disqualified-by-is", Stage.DISQUALIFIED),
    ),
    (
        "sal-accepted (HubSpot IN_PROGRESS)",
        person(hubspot(hs_lead_status="IN_PROGRESS", **CONTACTED), stage=Stage.MQL, entered=NOW - 3 * H),
        ("transition", "sal-accepted", Stage.SAL),
    ),
    (
        "sal-accepted (Salesforce Working - Contacted)",
        person(salesforce(Status="Working - Contacted"), stage=Stage.MQL, entered=NOW - 3 * H),
        ("transition", "sal-accepted", Stage.SAL),
    ),
    (
        "sql-bant 3 of 4",
        person(salesforce(Status="Working - Contacted", **bant(3)), stage=Stage.SAL),
        ("transition", "sql-bant", Stage.SQL),
    ),
    (
        "sql-bant 4 of 4",
        person(salesforce(**bant(4)), stage=Stage.SAL),
        ("transition", "sql-bant", Stage.SQL),
    ),
    (
        "sql-bant 2 of 4 is not enough",
        person(salesforce(Status="Working - Contacted", **bant(2)), stage=Stage.SAL),
        None,
    ),
    (
        "opportunity-open-deal (HubSpot)",
        person(hubspot(), stage=Stage.SQL, deals=(hs_deal("qualifiedtobuy"),)),
        ("transition", "opportunity-open-deal", Stage.OPPORTUNITY),
    ),
    (
        "opportunity-open-deal (Salesforce)",
        person(salesforce(), stage=Stage.SAL, deals=(sf_opp("Prospecting"),)),
        ("transition", "opportunity-open-deal", Stage.OPPORTUNITY),
    ),
    (
        "customer-won-deal",
        person(salesforce(), stage=Stage.OPPORTUNITY, deals=(sf_opp("Closed Won", closedate="2026-05-01"),)),
        ("transition", "customer-won-deal", Stage.CUSTOMER),
    ),
    (
        "reengaged-after-recycle",
        person(
            hubspot(hubspotscore="80", notes_last_contacted=(NOW - 2 * D).isoformat()),
            stage=Stage.RECYCLED,
            entered=NOW - 60 * D,
        ),
        ("transition", "reengaged-after-recycle", Stage.MQL),
    ),
    (
        "recycled too recently to re-engage",
        person(
            hubspot(hubspotscore="80", notes_last_contacted=(NOW - 2 * D).isoformat()),
            stage=Stage.RECYCLED,
            entered=NOW - 10 * D,
        ),
        None,
    ),
    (
        "mql-no-sal-30d",
        person(hubspot(**CONTACTED), salesforce(), stage=Stage.MQL, entered=NOW - 31 * D),
        ("transition", "mql-no-sal-30d", Stage.RECYCLED),
    ),
    ("mql at 29 days stays", person(hubspot(**CONTACTED), stage=Stage.MQL, entered=NOW - 29 * D), None),
    (
        "lost-deal-cooldown-90d",
        person(
            salesforce(),
            stage=Stage.OPPORTUNITY,
            deals=(sf_opp("Closed Lost", closedate=(NOW - 91 * D).date().isoformat()),),
        ),
        ("transition", "lost-deal-cooldown-90d", Stage.RECYCLED),
    ),
    (
        "lost deal inside its cool-down stays",
        person(
            salesforce(),
            stage=Stage.OPPORTUNITY,
            deals=(sf_opp("Closed Lost", closedate=(NOW - 89 * D).date().isoformat()),),
        ),
        None,
    ),
    (
        "lost deal with another open deal stays",
        person(
            salesforce(),
            stage=Stage.OPPORTUNITY,
            deals=(sf_opp("Closed Lost", "006B", (NOW - 200 * D).date().isoformat()), sf_opp("Prospecting")),
        ),
        None,
    ),
    (
        "churned-recycle-180d",
        person(salesforce("Contact"), stage=Stage.CHURNED, entered=NOW - 181 * D),
        ("transition", "churned-recycle-180d", Stage.RECYCLED),
    ),
    (
        "churned at 179 days stays",
        person(salesforce("Contact"), stage=Stage.CHURNED, entered=NOW - 179 * D),
        None,
    ),
    (
        "customer-churned (date)",
        person(hubspot(churn_date="2026-05-20"), stage=Stage.CUSTOMER),
        ("transition", "customer-churned", Stage.CHURNED),
    ),
    (
        "customer-churned (Salesforce lifecycle)",
        person(salesforce("Contact", Lifecycle_Stage__c="Churned"), stage=Stage.CUSTOMER),
        ("transition", "customer-churned", Stage.CHURNED),
    ),
    (
        "churn needs no stage-entry time",
        person(hubspot(churn_date="2026-05-20"), stage=Stage.CUSTOMER, history=()),
        ("transition", "customer-churned", Stage.CHURNED),
    ),
    (
        "a delayed recycle needs a stage-entry time",
        person(hubspot(**CONTACTED), stage=Stage.MQL, history=()),
        None,
    ),
    (
        "customer is never disqualified",
        person(hubspot(hs_lead_status="UNQUALIFIED", lifecyclestage="customer"), stage=Stage.CUSTOMER),
        None,
    ),
    (
        "mql-speed-to-lead-24h",
        person(hubspot(), salesforce(), stage=Stage.MQL, entered=NOW - 25 * H),
        ("task", "mql-speed-to-lead-24h", None),
    ),
    (
        "SLA met by a contact after the MQL",
        person(hubspot(**CONTACTED), stage=Stage.MQL, entered=NOW - 25 * H),
        None,
    ),
    ("SLA not yet due", person(hubspot(), stage=Stage.MQL, entered=NOW - 23 * H), None),
    (
        "first sight adopts the CRM stage",
        person(hubspot(lifecyclestage="customer")),
        ("transition", "value-map:lifecycle_stage", Stage.CUSTOMER),
    ),
    (
        "Salesforce evidence above HubSpot's",
        person(
            hubspot(lifecyclestage="lead"), salesforce("Contact", Lifecycle_Stage__c="SQL"), stage=Stage.LEAD
        ),
        ("transition", "value-map:lifecycle_stage", Stage.SQL),
    ),
    (
        "echo: CRM already shows the stage",
        person(
            hubspot(lifecyclestage="marketingqualifiedlead", **CONTACTED), stage=Stage.MQL, entered=NOW - H
        ),
        None,
    ),
    (
        "stale CRM value does not undo a recycle",
        person(hubspot(lifecyclestage="marketingqualifiedlead"), stage=Stage.RECYCLED, entered=NOW - D),
        None,
    ),
    (
        "fresh CRM value after a recycle moves forward",
        person(
            hubspot(lifecyclestage="salesqualifiedlead", modified=NOW - H),
            stage=Stage.RECYCLED,
            entered=NOW - D,
        ),
        ("transition", "value-map:lifecycle_stage", Stage.SQL),
    ),
    (
        "score precedence: HubSpot's low score wins over Salesforce's",
        person(hubspot(hubspotscore="40", jobtitle="CTO"), salesforce(Lead_Score__c="95"), stage=Stage.LEAD),
        None,
    ),
    (
        "unknown lifecycle value",
        person(hubspot(lifecyclestage="bogus"), stage=Stage.LEAD),
        ("skipped", "value-map:lifecycle_stage", None),
    ),
    (
        "non-numeric score",
        person(hubspot(hubspotscore="n/a", jobtitle="CTO"), stage=Stage.LEAD),
        ("skipped", "mql-score", None),
    ),
    (
        "bad last-contacted date",
        person(hubspot(notes_last_contacted="yesterday"), stage=Stage.MQL, entered=NOW - 25 * H),
        ("skipped", "mql-speed-to-lead-24h", None),
    ),
    (
        "unknown deal stage",
        person(hubspot(), stage=Stage.SQL, deals=(hs_deal("nosuchstage"),)),
        ("skipped", "value-map:deal_phase", None),
    ),
    (
        "unknown lead status",
        person(hubspot(hs_lead_status="WHATEVER", **CONTACTED), stage=Stage.MQL, entered=NOW - H),
        ("skipped", "sal-accepted", None),
    ),
]


@pytest.mark.parametrize(("person_", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(mapping: Mapping, person_: Person, expected: Expected) -> None:
    decisions = evaluate(person_, person_.history, mapping, NOW)
    if expected is None:
        assert decisions == ()
        return
    kind, rule_id, stage = expected
    main = decisions[0]
    assert (main.kind, main.why.rule_id) == (kind, rule_id), decisions
    assert main.why.mapping_version == mapping.version
    assert main.why.decided_at == NOW
    if stage is not None:
        assert isinstance(main, StageTransition)
        assert (main.from_stage, main.to_stage) == (person_.stage, stage)


def test_every_rule_of_the_default_mapping_has_a_firing_case(mapping: Mapping) -> None:
    fired = {c[2][1] for c in CASES if c[2] is not None}
    every = {
        r.id for section in ("advance", "recycle", "churn", "tasks") for r in getattr(mapping.model, section)
    }
    assert every <= fired


def test_inputs_record_what_the_rule_read(mapping: Mapping) -> None:
    p = person(hubspot(lifecyclestage="lead", hubspotscore="75", jobtitle="Head of IT"), stage=Stage.LEAD)
    (move,) = evaluate(p, p.history, mapping, NOW)
    assert move.why.inputs["lead_score"] == 75.0
    assert move.why.inputs["job_title"] == "Head of IT"
    assert move.why.inputs["stage"] == "lead"


def test_recycle_task_for_inside_sales_goes_to_salesforce_with_the_lost_deal(mapping: Mapping) -> None:
    lost = sf_opp("Closed Lost", closedate=(NOW - 100 * D).date().isoformat())
    p = person(hubspot(), salesforce("Contact", record_id="003X"), stage=Stage.OPPORTUNITY, deals=(lost,))
    move, task = evaluate(p, p.history, mapping, NOW)
    assert isinstance(move, StageTransition)
    assert isinstance(task, TaskDecision)
    assert task.crm is Crm.SALESFORCE
    assert task.owner_id == "005OWNER"
    assert task.due == NOW + 7 * D
    assert task.priority == "MEDIUM"
    assert task.targets == (
        TargetRef(Crm.SALESFORCE, "Contact", "003X"),
        TargetRef(Crm.SALESFORCE, "Opportunity", "006A"),
    )
    assert task.why.inputs["anchor_at"] == (NOW - 100 * D).replace(hour=0).isoformat()
    assert "ada@example.com" in task.subject


@pytest.mark.parametrize(
    ("records", "crm"),
    [((hubspot(**CONTACTED), salesforce()), Crm.HUBSPOT), ((salesforce(),), Crm.SALESFORCE)],
    ids=["nurture goes to HubSpot", "falls back to Salesforce"],
)
def test_nurture_task_crm(mapping: Mapping, records: tuple[SourceRecord, ...], crm: Crm) -> None:
    p = person(*records, stage=Stage.MQL, entered=NOW - 31 * D)
    task = next(d for d in evaluate(p, p.history, mapping, NOW) if isinstance(d, TaskDecision))
    assert task.crm is crm
    assert all(t.crm is crm for t in task.targets)


def test_sla_task_is_high_priority_for_the_owner_and_never_twice(mapping: Mapping) -> None:
    p = person(hubspot(), stage=Stage.MQL, entered=NOW - 25 * H)
    (task,) = evaluate(p, p.history, mapping, NOW)
    assert isinstance(task, TaskDecision)
    assert (task.priority, task.owner_id, task.due) == ("HIGH", "hs-owner-1", NOW + H)
    again = person(hubspot(), stage=Stage.MQL, entered=NOW - 25 * H, open_tasks=(task_key(task),))
    assert evaluate(again, again.history, mapping, NOW + 2 * H) == ()


def test_keys_are_stable_and_distinguish_occurrences(mapping: Mapping) -> None:
    first = person(hubspot(), stage=Stage.MQL, entered=NOW - 25 * H)
    later = person(hubspot(), stage=Stage.MQL, entered=NOW - 26 * H)
    (a,) = evaluate(first, first.history, mapping, NOW)
    (b,) = evaluate(first, first.history, mapping, NOW + H)
    (c,) = evaluate(later, later.history, mapping, NOW)
    assert isinstance(a, TaskDecision)
    assert isinstance(b, TaskDecision)
    assert isinstance(c, TaskDecision)
    assert task_key(a) == task_key(b) != task_key(c)
    move = person(hubspot(hubspotscore="75", jobtitle="CTO"), stage=Stage.LEAD)
    (t1,) = evaluate(move, move.history, mapping, NOW)
    (t2,) = evaluate(move, move.history, mapping, NOW + D)
    assert isinstance(t1, StageTransition)
    assert isinstance(t2, StageTransition)
    assert transition_key(t1) == transition_key(t2)
    assert len(transition_key(t1)) == 32


def test_skipped_names_record_and_field(mapping: Mapping) -> None:
    p = person(hubspot(hubspotscore="n/a", jobtitle="CTO"), stage=Stage.LEAD)
    (skip,) = evaluate(p, p.history, mapping, NOW)
    assert skip.kind == "skipped"
    assert skip.field == "lead_score"
    assert skip.record == TargetRef(Crm.HUBSPOT, "contacts", "101")
    assert "'n/a' is not a number" in skip.reason


def _with(extra: str) -> Mapping:
    mapping, problems = load_texts({str(DEFAULT_MAPPING): DEFAULT_MAPPING.read_text(), "extra.yaml": extra})
    assert problems == []
    assert mapping is not None
    return mapping


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("highest", Stage.CUSTOMER), ("precedence", Stage.SQL)],
    ids=["highest", "precedence"],
)
def test_stage_evidence_precedence_is_written_in_the_mapping(mode: str, expected: Stage) -> None:
    mapping = _with(f"precedence:\n  stage_evidence: {mode}\n")
    p = person(hubspot(lifecyclestage="customer"), salesforce("Contact", Lifecycle_Stage__c="SQL"))
    (move,) = evaluate(p, p.history, mapping, NOW)
    assert isinstance(move, StageTransition)
    assert move.to_stage == expected


def test_per_crm_field_override_changes_what_is_read() -> None:
    extra = "fields:\n  lead_score:\n    sources:\n      salesforce: {Lead: MQL_Score__c}\n"
    extra += "precedence:\n  fields:\n    lead_score: [salesforce, hubspot]\n"
    mapping = _with(extra)
    p = person(salesforce(MQL_Score__c="88", Lead_Score__c="10", Title="CTO"), stage=Stage.LEAD)
    (move,) = evaluate(p, p.history, mapping, NOW)
    assert move.why.rule_id == "mql-score"
    assert move.why.inputs["lead_score"] == 88.0
