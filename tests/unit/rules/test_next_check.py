"""`evaluate_with_next_check`: the decisions stay the same at every instant before the reported
next check, whatever the person and the time; and the instant is the one a timer really fires at."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.model import Decision, Person, Stage, StageChange, TaskDecision
from connector.rules.compiled import Mapping
from connector.rules.engine import evaluate, evaluate_with_next_check
from connector.rules.loader import DEFAULT_MAPPING, load_texts
from tests.unit.rules.builders import NOW, hubspot, person, salesforce
from tests.unit.rules.test_properties import people

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Time conditions under every combinator, on top of the shipped mapping's timers.
TIMED = """
advance:
  - id: quiet-lead-any
    to: mql
    from: [lead]
    when:
      any:
        - {field: created_at, older_than: 10d}
        - not: {field: last_contacted_at, newer_than: 2d}
  - id: bant-or-aged
    to: sql
    from: [mql, sal]
    when:
      at_least: 2
      of:
        - {field: budget_confirmed, eq: true}
        - {field: last_contacted_at, older_than: 3h}
        - {field: created_at, newer_than: 40d}
recycle:
  - id: silent-sal-14d
    from: [sal]
    to: recycled
    since: last_contacted_at
    after: 14d
    when: {not: {field: created_at, older_than: 90d}}
tasks:
  - id: sql-follow-up
    stages: [sql, opportunity]
    since: stage_entered
    after: 2d
    satisfied_by: last_contacted_at
    when: {any: [{field: created_at, newer_than: 60d}, {field: lead_score, gte: 10}]}
    task: {subject: "Follow up $email", body: "rule $rule", due_in: 1d, priority: LOW, crm: [hubspot]}
"""


def _timed_mapping() -> Mapping:
    mapping, problems = load_texts({str(DEFAULT_MAPPING): DEFAULT_MAPPING.read_text(), "timed.yaml": TIMED})
    assert problems == [], problems
    assert mapping is not None
    return mapping


MAPPINGS = {"shipped": None, "timed": _timed_mapping()}


def same(decision: Decision) -> Decision:
    """A decision without the fields that embed the evaluation's `now`."""
    out = replace(decision, why=replace(decision.why, decided_at=EPOCH))
    return replace(out, due=EPOCH) if isinstance(out, TaskDecision) else out


def signature(p: Person, mapping: Mapping, at: datetime) -> list[Decision]:
    return [same(d) for d in evaluate(p, p.history, mapping, at)]


@st.composite
def timed_people(draw: st.DrawFn) -> Person:
    """The property suite's people, with the time fields the timed rules read set near `NOW`."""
    p = draw(people())
    near = st.integers(-60 * 24 * 100, 60 * 24 * 5).map(lambda m: (NOW + timedelta(minutes=m)).isoformat())
    records = []
    for r in p.records:
        extra = {
            "createdate" if r.object_type == "contacts" else "CreatedDate": draw(st.one_of(st.none(), near))
        }
        records.append(replace(r, properties={**r.properties, **extra}))
    stage = p.stage if p.stage is not None else draw(st.sampled_from([Stage.LEAD, Stage.MQL, Stage.SAL]))
    entered = NOW - timedelta(minutes=draw(st.integers(-60, 60 * 24 * 200)))
    return replace(p, records=tuple(records), stage=stage, history=(StageChange(stage, entered),))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(timed_people(), st.sampled_from(sorted(MAPPINGS)), st.lists(st.floats(0, 1), max_size=4))
def test_decisions_hold_until_the_next_check(
    mapping: Mapping, p: Person, which: str, fractions: list[float]
) -> None:
    rules = MAPPINGS[which] or mapping
    decisions, next_check = evaluate_with_next_check(p, p.history, rules, NOW)
    assert decisions == evaluate(p, p.history, rules, NOW)  # the same output as `evaluate`
    at_now = signature(p, rules, NOW)
    if next_check is None:  # no time comparison can flip: any later instant
        probes = [NOW + timedelta(days=1000 * f) for f in fractions] + [NOW + timedelta(days=3650)]
    else:
        assert next_check > NOW
        span = next_check - NOW
        probes = [NOW + span * f for f in fractions] + [next_check - timedelta(microseconds=1)]
    for at in probes:
        if at < next_check if next_check is not None else True:
            assert signature(p, rules, at) == at_now, at


@pytest.mark.parametrize(
    ("who", "flips_after", "then"),
    [
        # the SLA timer: an MQL not contacted within 24 hours gets a task at entry + 24h
        (person(hubspot(), stage=Stage.MQL, entered=NOW - timedelta(hours=23)), timedelta(hours=1), "task"),
        # an MQL that Inside Sales does not accept within 30 days is recycled at entry + 30d
        (
            person(
                hubspot(notes_last_contacted=NOW.isoformat()),
                stage=Stage.MQL,
                entered=NOW - timedelta(days=29),
            ),
            timedelta(days=1),
            "transition",
        ),
    ],
    ids=["mql-sla-24h", "mql-recycle-30d"],
)
def test_the_next_check_is_when_the_timer_fires(
    mapping: Mapping, who: Person, flips_after: timedelta, then: str
) -> None:
    decisions, next_check = evaluate_with_next_check(who, who.history, mapping, NOW)
    assert [d.kind for d in decisions] == []
    assert next_check == NOW + flips_after
    assert [d.kind for d in evaluate(who, who.history, mapping, next_check - timedelta(microseconds=1))] == []
    assert then in [d.kind for d in evaluate(who, who.history, mapping, next_check)]


def test_no_time_comparison_no_next_check(mapping: Mapping) -> None:
    customer = person(salesforce("Contact", Lifecycle_Stage__c="Customer"), stage=Stage.CUSTOMER)
    assert evaluate_with_next_check(customer, customer.history, mapping, NOW).next_check is None


def test_a_short_circuited_time_comparison_is_not_a_next_check(mapping: Mapping) -> None:
    """reengaged-after-recycle reads the score first: a low score never looks at the clock."""
    low = person(hubspot(hubspotscore="5"), stage=Stage.RECYCLED, entered=NOW - timedelta(days=20))
    high = person(hubspot(hubspotscore="95"), stage=Stage.RECYCLED, entered=NOW - timedelta(days=20))
    assert evaluate_with_next_check(low, low.history, mapping, NOW).next_check is None
    assert evaluate_with_next_check(high, high.history, mapping, NOW).next_check == NOW + timedelta(days=10)
