"""A person first seen at a CRM stage is dated from the CRM's own entry time (`entered_at` of the
stage field), so the stage's timers run from when the person really got there, not from install."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pytest

from connector.model import Decision, Person, Stage, StageTransition, TaskDecision
from connector.rules.compiled import Mapping
from connector.rules.engine import evaluate
from connector.sync import settle
from tests.unit.rules.builders import NOW, hubspot, person

D = timedelta(days=1)
PROP = "hs_v2_date_entered_marketingqualifiedlead"


def mql(entered: str | None, stage: Stage | None = None, since: datetime | None = None) -> Person:
    """A HubSpot MQL (changed yesterday) whose entry time property holds `entered`."""
    contact = hubspot(
        modified=NOW - D,
        lifecyclestage="marketingqualifiedlead",
        hs_v2_date_entered_marketingqualifiedlead=entered,
    )
    return person(contact, stage=stage, entered=since)


def move(decisions: Iterable[Decision]) -> StageTransition:
    moves = [d for d in decisions if isinstance(d, StageTransition)]
    assert len(moves) == 1, decisions
    return moves[0]


@pytest.mark.parametrize(
    ("raw", "entered", "inputs"),
    [
        (
            (NOW - 10 * D).isoformat(),
            NOW - 10 * D,
            {"entered_at": (NOW - 10 * D).isoformat(), "entered_at_from": PROP},
        ),
        (str(int((NOW - 2 * D).timestamp() * 1000)), NOW - 2 * D, {"entered_at_from": PROP}),  # epoch ms
        (None, NOW, {}),  # the CRM did not say: the decision's time
        ((NOW + D).isoformat(), NOW, {"entered_at": NOW.isoformat()}),  # a clock ahead of ours
        ("soon", NOW, {"entered_at_invalid": "soon"}),  # malformed: kept in the provenance, not fatal
    ],
    ids=["iso", "epoch-ms", "missing", "future", "malformed"],
)
def test_first_sight_is_dated_from_the_crm(
    mapping: Mapping, raw: str | None, entered: datetime, inputs: dict[str, str]
) -> None:
    transition = move(evaluate(mql(raw), (), mapping, NOW))
    assert transition.to_stage is Stage.MQL
    assert transition.why.rule_id == "value-map:lifecycle_stage"
    assert transition.entered_at == entered
    assert inputs.items() <= dict(transition.why.inputs).items()
    assert transition.why.decided_at == NOW


def test_an_entry_before_the_current_stage_is_ignored(mapping: Mapping) -> None:
    """A CRM that keeps the first entry time on re-entry must not date a return before the leave."""
    back = mql((NOW - 60 * D).isoformat(), stage=Stage.RECYCLED, since=NOW - 20 * D)
    transition = move(evaluate(back, back.history, mapping, NOW))
    assert (transition.from_stage, transition.to_stage) == (Stage.RECYCLED, Stage.MQL)
    assert transition.entered_at == NOW
    assert "entered_at" not in transition.why.inputs


@pytest.mark.parametrize(("days", "recycled"), [(40, True), (10, False)])
def test_a_stale_mql_recycles_at_first_sight(mapping: Mapping, days: int, recycled: bool) -> None:
    """The 30-day rule counts from the CRM's entry: 40 days ago recycles now, 10 days ago does not."""
    decisions = settle(mql((NOW - days * D).isoformat()), mapping, NOW)
    stages = [d.to_stage for d in decisions if isinstance(d, StageTransition)]
    assert stages == ([Stage.MQL, Stage.RECYCLED] if recycled else [Stage.MQL])
    nurture = [d for d in decisions if isinstance(d, TaskDecision) and d.why.rule_id == "mql-no-sal-30d"]
    assert len(nurture) == int(recycled)
    if recycled:
        assert nurture[0].why.inputs["anchor_at"] == (NOW - days * D).isoformat()
