"""The engine's decisions built through their slot setters (`connector.model.slot_setters`).

About half the cost of the frozen dataclasses' `__init__`, which is a tenth of an evaluation that
decides something. Every field is passed, defaults included; tests compare each builder with the
class's own constructor.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connector.model import (
    Crm,
    InputValue,
    Provenance,
    Stage,
    StageTransition,
    TargetRef,
    TaskDecision,
    slot_setters,
)

_new = object.__new__
_P_RULE, _P_VERSION, _P_INPUTS, _P_AT = slot_setters(Provenance)
_T_PERSON, _T_FROM, _T_TO, _T_WHY, _T_KIND = slot_setters(StageTransition)
(
    _K_PERSON,
    _K_CRM,
    _K_SUBJECT,
    _K_BODY,
    _K_DUE,
    _K_PRIORITY,
    _K_OWNER,
    _K_TARGETS,
    _K_WHY,
    _K_KIND,
) = slot_setters(TaskDecision)


def new_provenance(
    rule_id: str, mapping_version: str, inputs: Mapping[str, InputValue], decided_at: datetime
) -> Provenance:
    """Provenance(rule_id, mapping_version, inputs, decided_at)."""
    why: Provenance = _new(Provenance)
    _P_RULE(why, rule_id)
    _P_VERSION(why, mapping_version)
    _P_INPUTS(why, inputs)
    _P_AT(why, decided_at)
    return why


def new_transition(
    person_id: str, from_stage: Stage | None, to_stage: Stage, why: Provenance
) -> StageTransition:
    """StageTransition(person_id, from_stage, to_stage, why)."""
    move: StageTransition = _new(StageTransition)
    _T_PERSON(move, person_id)
    _T_FROM(move, from_stage)
    _T_TO(move, to_stage)
    _T_WHY(move, why)
    _T_KIND(move, "transition")
    return move


def new_task(  # noqa: PLR0917 - positional like the TaskDecision it builds
    person_id: str,
    crm: Crm,
    subject: str,
    body: str,
    due: datetime,
    priority: str,
    owner_id: str | None,
    targets: tuple[TargetRef, ...],
    why: Provenance,
) -> TaskDecision:
    """TaskDecision(person_id, crm, subject, body, due, priority, owner_id, targets, why)."""
    decision: TaskDecision = _new(TaskDecision)
    _K_PERSON(decision, person_id)
    _K_CRM(decision, crm)
    _K_SUBJECT(decision, subject)
    _K_BODY(decision, body)
    _K_DUE(decision, due)
    _K_PRIORITY(decision, priority)
    _K_OWNER(decision, owner_id)
    _K_TARGETS(decision, targets)
    _K_WHY(decision, why)
    _K_KIND(decision, "task")
    return decision
