"""Read a person's records and deals into canonical facts, following the mapping's tables.

Values the mapping cannot read (unknown picklist values, "n/a" scores, bad dates) are kept
as `Invalid` entries, never raised, so the engine can answer with a Skipped decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.model import Crm, Person, SourceRecord, Stage, TargetRef
from connector.rules.compiled import Mapping
from connector.rules.fields import BadValueError, Invalid, parse_datetime


@dataclass(frozen=True, slots=True)
class Evidence:
    """A CRM stage value that reads as a canonical stage."""

    stage: Stage
    crm: Crm
    field: str
    raw: str
    record: TargetRef
    modified_at: datetime


@dataclass(slots=True)
class PersonFacts:
    values: dict[str, Any] = field(default_factory=dict)
    invalid: dict[str, Invalid] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    unknown: list[Invalid] = field(default_factory=list)  # values no value map knows
    records: tuple[SourceRecord, ...] = ()


def _ref(record: SourceRecord) -> TargetRef:
    return TargetRef(record.crm, record.object_type, record.record_id)


def _order(records: tuple[SourceRecord, ...]) -> tuple[SourceRecord, ...]:
    """Live records, newest first per CRM, independent of the order they were given in."""
    live = [r for r in records if not r.archived]
    if len(live) > 1:
        live.sort(key=lambda r: (r.crm, r.modified_at, r.object_type, r.record_id), reverse=True)
    return tuple(live)


def gather(person: Person, mapping: Mapping) -> PersonFacts:
    """Canonical field values of a person, choosing between CRMs by the mapping's precedence."""
    facts = PersonFacts(records=_order(person.records))
    per_field: dict[str, dict[Crm, Any]] = {}
    for record in facts.records:
        props = record.properties
        for src in mapping.sources.get((record.crm, record.object_type), ()):
            raw = props.get(src.prop)
            if raw is None or raw == "":
                continue
            slot = per_field.setdefault(src.field, {})
            if record.crm in slot:
                continue  # an older record of the same CRM
            value: Any
            if src.values is not None:
                value = src.values.get(raw)
                if value is None:
                    bad = Invalid(src.field, _ref(record), raw, f"unknown {record.crm} value {raw!r}")
                    facts.unknown.append(bad)
                    slot[record.crm] = bad
                    continue
                if src.kind == "stage":
                    facts.evidence.append(
                        Evidence(Stage(value), record.crm, src.field, raw, _ref(record), record.modified_at)
                    )
            else:
                try:
                    value = src.parse(raw) if src.parse else raw
                except BadValueError as exc:
                    value = Invalid(src.field, _ref(record), raw, str(exc))
            slot[record.crm] = value
    for name, by_crm in per_field.items():
        for crm in mapping.order_for(name):
            if crm in by_crm:
                chosen = by_crm[crm]
                if isinstance(chosen, Invalid):
                    facts.invalid[name] = chosen
                else:
                    facts.values[name] = chosen
                break
    facts.values["crm_stages"] = frozenset(e.stage.value for e in facts.evidence)
    if mapping.reads_deals:
        _deal_facts(person, mapping, facts)
    return facts


def _deal_facts(person: Person, mapping: Mapping, facts: PersonFacts) -> None:
    open_phases: list[int] = []
    closed: dict[str, list[datetime]] = {"won": [], "lost": []}
    for deal in person.deals:
        spec = mapping.deals.get(deal.crm)
        if deal.archived or spec is None or deal.object_type != spec.object_type:
            continue
        props = deal.properties
        raw = props.get(spec.stage_property) or ""
        phase = spec.phase_of(props)
        if phase is None:
            facts.unknown.append(
                Invalid("deal_phase", _ref(deal), raw, f"unknown {deal.crm} deal stage {raw!r}")
            )
            facts.invalid["deal_phase"] = facts.unknown[-1]
            continue
        if isinstance(phase, int):
            open_phases.append(phase)
            continue
        close = props.get(spec.close_date_property)
        try:
            closed[phase].append(parse_datetime(close) if close else deal.modified_at)
        except BadValueError as exc:
            name = f"last_{phase}_at"
            facts.invalid[name] = Invalid(name, _ref(deal), close or "", str(exc))
    values = facts.values
    values["open_deals"] = float(len(open_phases))
    values["won_deals"] = float(len(closed["won"]))
    values["lost_deals"] = float(len(closed["lost"]))
    if open_phases:
        values["deal_phase"] = float(max(open_phases))
    for outcome, dates in closed.items():
        if dates and f"last_{outcome}_at" not in facts.invalid:
            values[f"last_{outcome}_at"] = max(dates)


def deals_for(person: Person, mapping: Mapping, crm: Crm, which: str) -> tuple[TargetRef, ...]:
    """The person's deals in one CRM filtered by outcome ('open', 'lost', 'won', 'all', 'none')."""
    spec = mapping.deals.get(crm)
    if which == "none" or spec is None:
        return ()
    out: list[TargetRef] = []
    for deal in person.deals:
        if deal.crm != crm or deal.archived or deal.object_type != spec.object_type:
            continue
        phase = spec.phase_of(deal.properties)
        outcome = "open" if isinstance(phase, int) else phase
        if which in {"all", outcome}:
            out.append(_ref(deal))
    return tuple(sorted(out, key=lambda t: t.record_id))
