"""What the mapping's compiled evaluation tables must keep from the slower, plainer forms."""

from __future__ import annotations

from dataclasses import replace
from string import Template

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.model import Skipped, Stage, StageTransition
from connector.rules.compiled import Mapping, format_of
from connector.rules.engine import evaluate
from tests.unit.rules.builders import NOW, hubspot, person, salesforce

WORDS = {"email": "a{0}@x.com", "stage": "m$ql", "rule": "r-{rule}"}


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "Nurture: $email was not accepted ($rule)",
        "${email}s and $$5 and $ alone and $",
        "$unknown ${other} $Email {braces} {{double}} %s",
        "${email",
        "$1st $_x ${stage}${rule}",
        "",
    ],
)
def test_task_text_is_what_safe_substitute_gives(text: str) -> None:
    assert format_of(Template(text)).format_map(WORDS) == Template(text).safe_substitute(WORDS)


@given(st.text(alphabet="${}_ aeilmrstuxE1%", max_size=24))
def test_task_text_matches_safe_substitute_for_any_template(text: str) -> None:
    assert format_of(Template(text)).format_map(WORDS) == Template(text).safe_substitute(WORDS)


def test_at_least_reads_every_part_so_a_malformed_one_is_reported(mapping: Mapping) -> None:
    """Three of four BANT boxes would do, but the fourth is malformed: not judged, never promoted."""
    lead = salesforce(
        Budget_Confirmed__c="true",
        Authority_Confirmed__c="true",
        Need_Confirmed__c="true",
        Timeline_Confirmed__c="maybe",
    )
    p = person(lead, stage=Stage.SAL)
    decisions = evaluate(p, p.history, mapping, NOW)
    assert not [d for d in decisions if isinstance(d, StageTransition) and d.why.rule_id == "sql-bant"]
    skip = next(d for d in decisions if isinstance(d, Skipped))
    assert (skip.why.rule_id, skip.field) == ("sql-bant", "timeline_confirmed")


@pytest.mark.parametrize("archived_first", [True, False])
def test_an_archived_record_of_two_is_not_read(mapping: Mapping, archived_first: bool) -> None:
    gone = replace(hubspot(lifecyclestage="customer"), archived=True)
    live = salesforce("Contact", Lifecycle_Stage__c="MQL")
    records = (gone, live) if archived_first else (live, gone)
    p = person(*records, stage=Stage.LEAD)
    moves = [d for d in evaluate(p, p.history, mapping, NOW) if isinstance(d, StageTransition)]
    assert [(m.to_stage, m.why.inputs["crm"]) for m in moves] == [(Stage.MQL, "salesforce")]
