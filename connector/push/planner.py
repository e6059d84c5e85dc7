"""Decisions -> keyed `PlannedWrite`s in each CRM's vocabulary. Pure: no network, no database.

A stage transition fans out to every record the person has in either CRM (HubSpot reflects
Salesforce's sales progress and the reverse), through the mapping's value maps. A field that
already holds the target value is not written: that is the first line of echo suppression, and
it is why a second identical cycle plans nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from connector.model import (
    Crm,
    Decision,
    Person,
    Skipped,
    SourceRecord,
    Stage,
    StageTransition,
    TaskDecision,
)
from connector.push import hubspot_writer, salesforce_writer
from connector.push.writes import PlannedWrite, WriteKind, stable_key

StageValues = Callable[[Crm, str, Stage], Mapping[str, str] | None]
"""(crm, object_type, canonical stage) -> {field: CRM value} for that object, or None if unmapped."""

TaskKey = Callable[[TaskDecision], str]
DecisionKey = Callable[[StageTransition], str]

# Vendor vocabulary lives next to each adapter; the planner only looks it up.
_TASK_FIELDS: Mapping[Crm, Callable[[TaskDecision, str], Mapping[str, str]]] = {
    Crm.HUBSPOT: hubspot_writer.task_properties,
    Crm.SALESFORCE: salesforce_writer.task_fields,
}
_TASK_OBJECT: Mapping[Crm, str] = {Crm.HUBSPOT: "tasks", Crm.SALESFORCE: "Task"}
_NEEDS_CLEAR: Mapping[Crm, Callable[[str, str | None, str], bool]] = {
    Crm.HUBSPOT: hubspot_writer.needs_clear,
    Crm.SALESFORCE: lambda _field, _current, _target: False,
}


def default_task_key(decision: TaskDecision) -> str:
    """Fallback when the rules engine supplies no key: rule, person, CRM, subject, due day, version."""
    return stable_key(
        "task",
        decision.why.rule_id,
        decision.person_id,
        decision.crm.value,
        decision.subject,
        decision.due.date().isoformat(),
        decision.why.mapping_version,
    )


def default_decision_key(decision: StageTransition) -> str:
    """Fallback occurrence key of a move: the from-stage tells a later return to the same stage
    (a recycle loop) from a duplicate of the first move. The engine's key also has the entry time."""
    return stable_key(decision.person_id, decision.from_stage, decision.to_stage)


def write_key(
    decision: StageTransition, occurrence: str, record: SourceRecord, values: Mapping[str, str]
) -> str:
    """(rule, person, target record, target values, mapping version, occurrence of the move)."""
    return stable_key(
        "transition",
        decision.why.rule_id,
        decision.person_id,
        [record.crm.value, record.object_type, record.record_id],
        dict(values),
        decision.why.mapping_version,
        occurrence,
    )


@dataclass(frozen=True, slots=True)
class Planner:
    stage_values: StageValues
    task_key: TaskKey = default_task_key
    decision_key: DecisionKey = default_decision_key

    def plan(self, decisions: Iterable[Decision], people: Mapping[str, Person]) -> list[PlannedWrite]:
        """Every write the decisions imply, in decision order; unknown people plan nothing."""
        return [write for _decision, write in self.plan_pairs(decisions, people)]

    def plan_pairs(
        self, decisions: Iterable[Decision], people: Mapping[str, Person]
    ) -> list[tuple[StageTransition | TaskDecision, PlannedWrite]]:
        """Like `plan`, with the decision each write came from (the outbox row links to it)."""
        pairs: list[tuple[StageTransition | TaskDecision, PlannedWrite]] = []
        seen: set[str] = set()
        decisions = list(decisions)
        # several moves of one person in one cycle: only where they end up is written
        final = {d.person_id: d for d in decisions if isinstance(d, StageTransition)}
        for decision in decisions:
            person = people.get(decision.person_id)
            if person is None or isinstance(decision, Skipped):
                continue
            if isinstance(decision, StageTransition) and final[decision.person_id] is not decision:
                continue
            planned = (
                self._stage_writes(decision, person)
                if isinstance(decision, StageTransition)
                else self._task_writes(decision, person)
            )
            for write in planned:
                if write.key not in seen:  # two rules deciding the same effect: one write
                    seen.add(write.key)
                    pairs.append((decision, write))
        return pairs

    def _stage_writes(self, decision: StageTransition, person: Person) -> list[PlannedWrite]:
        writes = []
        occurrence = self.decision_key(decision)
        for record in person.records:
            if not _writable(record):
                continue
            target = self.stage_values(record.crm, record.object_type, decision.to_stage)
            if not target:
                continue
            changed = {f: v for f, v in target.items() if record.properties.get(f) != v}
            if not changed:  # the CRM already shows it (our own echo, or a person got there first)
                continue
            needs_clear = _NEEDS_CLEAR[record.crm]
            writes.append(
                PlannedWrite(
                    key=write_key(decision, occurrence, record, changed),
                    crm=record.crm,
                    kind=WriteKind.STAGE,
                    object_type=record.object_type,
                    record_id=record.record_id,
                    person_id=person.person_id,
                    rule_id=decision.why.rule_id,
                    mapping_version=decision.why.mapping_version,
                    properties=changed,
                    expected={f: record.properties.get(f) for f in changed},
                    clear_first=tuple(
                        f for f, v in changed.items() if needs_clear(f, record.properties.get(f), v)
                    ),
                )
            )
        return writes

    def _task_writes(self, decision: TaskDecision, person: Person) -> list[PlannedWrite]:
        key = self.task_key(decision)
        if key in person.open_tasks:
            return []
        targets = tuple(t for t in decision.targets if t.crm is decision.crm)
        if not targets:
            return []
        return [
            PlannedWrite(
                key=key,
                crm=decision.crm,
                kind=WriteKind.TASK,
                object_type=_TASK_OBJECT[decision.crm],
                record_id=None,
                person_id=person.person_id,
                rule_id=decision.why.rule_id,
                mapping_version=decision.why.mapping_version,
                properties=_TASK_FIELDS[decision.crm](decision, key),
                associations=targets,
            )
        ]


def _writable(record: SourceRecord) -> bool:
    """Archived records and converted Salesforce Leads are read-only history."""
    return not record.archived and (record.properties.get("IsConverted") or "").lower() != "true"
