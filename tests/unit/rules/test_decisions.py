"""The engine's decision builders give exactly what the model's constructors give."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import pytest

from connector.model import (
    Crm,
    InputValue,
    Provenance,
    SourceRecord,
    Stage,
    StageTransition,
    TargetRef,
    TaskDecision,
    slot_setters,
)
from connector.rules.decisions import new_provenance, new_task, new_transition
from tests.unit.rules.builders import NOW

Inputs = dict[str, InputValue]
WHY: tuple[tuple[str, str, Inputs, datetime], ...] = (
    ("r1", "sha256:0", {"a": 1, "b": None}, NOW),
    ("value-map:x", "v", {}, NOW + timedelta(1)),
)


@pytest.mark.parametrize("args", WHY)
def test_provenance_is_the_constructors(args: tuple[str, str, Inputs, datetime]) -> None:
    built, made = new_provenance(*args), Provenance(*args)
    assert built == made
    assert repr(built) == repr(made)


@pytest.mark.parametrize("from_stage", [None, Stage.MQL, Stage.RECYCLED])
def test_transition_is_the_constructors(from_stage: Stage | None) -> None:
    why = Provenance(*WHY[0])
    built = new_transition("p1", from_stage, Stage.SQL, why)
    made = StageTransition("p1", from_stage, Stage.SQL, why)
    assert built == made
    assert repr(built) == repr(made)
    assert built.kind == "transition"


@pytest.mark.parametrize("owner", [None, "42"])
def test_task_is_the_constructors(owner: str | None) -> None:
    why = Provenance(*WHY[1])
    args = (
        "p1",
        Crm.SALESFORCE,
        "subject",
        "body",
        NOW,
        "HIGH",
        owner,
        (TargetRef(Crm.SALESFORCE, "Lead", "00Q1"),),
        why,
    )
    built, made = new_task(*args), TaskDecision(*args)  # type: ignore[arg-type]
    assert built == made
    assert repr(built) == repr(made)
    assert built.kind == "task"


@pytest.mark.parametrize("cls", [Provenance, StageTransition, TaskDecision, SourceRecord])
def test_a_setter_per_field(cls: type) -> None:
    assert len(slot_setters(cls)) == len(fields(cls))


def test_classes_with_more_than_fields_are_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None: ...

    with pytest.raises(TypeError, match="not a plain slotted dataclass"):
        slot_setters(Checked)
