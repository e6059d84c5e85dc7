"""Read a person's records and deals into canonical facts, following the mapping's tables.

Facts are lazy: a field is looked up and parsed only when a rule that applies to the person's
current stage reads it, which keeps an evaluation to a few microseconds. Values the mapping
cannot read (unknown picklist values, "n/a" scores, bad dates) become `Invalid` entries, never
exceptions, so the engine can answer with a Skipped decision.
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

from connector.model import Crm, Person, SourceRecord, Stage, TargetRef
from connector.rules.compiled import Mapping
from connector.rules.fields import DEAL_FIELDS, BadValueError, Invalid, parse_datetime


class Evidence(NamedTuple):
    """A CRM stage value that reads as a canonical stage (a tuple: built for every record)."""

    stage: Stage
    field: str
    raw: str
    source: SourceRecord

    @property
    def crm(self) -> Crm:
        return self.source.crm

    @property
    def record(self) -> TargetRef:
        return _ref(self.source)


def _ref(record: SourceRecord) -> TargetRef:
    return TargetRef(record.crm, record.object_type, record.record_id)


_NEWEST_FIRST = attrgetter("modified_at", "crm", "object_type", "record_id")


def _order(records: tuple[SourceRecord, ...]) -> tuple[SourceRecord, ...]:
    """Live records, newest first, independent of the order they were given in."""
    if len(records) == 1 and not records[0].archived:
        return records
    live = [r for r in records if not r.archived]
    if len(live) > 1:
        live.sort(key=_NEWEST_FIRST, reverse=True)
    return tuple(live)


class Facts(dict[str, Any]):
    """Canonical field -> typed value, resolved on first read; a missing field reads as None."""

    def __init__(self, person: Person, mapping: Mapping) -> None:
        self.person, self.mapping = person, mapping
        self.records = _order(person.records)
        self.invalid: dict[str, Invalid] = {}
        self.unknown: list[Invalid] = []  # values no value map knows, reported even if unread
        self.evidence: list[Evidence] = []
        for record in self.records:
            for src in mapping.stage_sources.get((record.crm, record.object_type), ()):
                raw = record.properties.get(src.prop)
                if not raw or src.values is None:
                    continue
                value = src.values.get(raw)
                if value is None:
                    self.unknown.append(
                        Invalid(src.field, _ref(record), raw, f"unknown {record.crm} value {raw!r}")
                    )
                else:
                    self.evidence.append(Evidence(value, src.field, raw, record))  # type: ignore[arg-type]

    def __missing__(self, name: str) -> Any:
        if name == "crm_stages":
            value: Any = frozenset(e.stage for e in self.evidence)
            self[name] = value
            return value
        if name in DEAL_FIELDS:
            self._deal_facts()
            return self.get(name)
        value = self._read(name)
        self[name] = value
        return value

    def _read(self, name: str) -> Any:
        """The first value in CRM precedence order (newest record first within a CRM)."""
        sources = self.mapping.by_field.get(name)
        if not sources:
            return None
        for crm in self.mapping.order_for(name):
            for record in self.records:
                src = sources.get((record.crm, record.object_type)) if record.crm == crm else None
                raw = record.properties.get(src.prop) if src else None
                if src is None or raw is None or raw == "":
                    continue
                try:
                    return self._parse(src.values, src.parse, raw)
                except BadValueError as exc:
                    self.invalid[name] = Invalid(name, _ref(record), raw, str(exc))
                    return None
        return None

    @staticmethod
    def _parse(values: Any, parse: Any, raw: str) -> Any:
        if values is not None:
            canonical = values.get(raw)
            if canonical is None:
                raise BadValueError(f"unknown value {raw!r}")
            return canonical
        return parse(raw) if parse else raw

    def _deal_facts(self) -> None:
        open_phases: list[int] = []
        closed: dict[str, list[datetime]] = {"won": [], "lost": []}
        for deal in sorted(self.person.deals, key=lambda d: (d.crm, d.object_type, d.record_id)):
            spec = self.mapping.deals.get(deal.crm)
            if deal.archived or spec is None or deal.object_type != spec.object_type:
                continue
            props = deal.properties
            phase = spec.phase_of(props)
            if phase is None:
                raw = props.get(spec.stage_property) or ""
                bad = Invalid("deal_phase", _ref(deal), raw, f"unknown {deal.crm} deal stage {raw!r}")
                self.unknown.append(bad)  # reported; the deal counts nowhere
                continue
            if isinstance(phase, int):
                open_phases.append(phase)
                continue
            close = props.get(spec.close_date_property)
            try:
                closed[phase].append(parse_datetime(close) if close else deal.modified_at)
            except BadValueError as exc:
                name = f"last_{phase}_at"
                self.invalid[name] = Invalid(name, _ref(deal), close or "", str(exc))
        for name in DEAL_FIELDS:
            self[name] = None
        self["open_deals"] = float(len(open_phases))
        self["won_deals"] = float(len(closed["won"]))
        self["lost_deals"] = float(len(closed["lost"]))
        if open_phases:
            self["deal_phase"] = float(max(open_phases))
        for outcome, dates in closed.items():
            if dates and f"last_{outcome}_at" not in self.invalid:
                self[f"last_{outcome}_at"] = max(dates)


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
