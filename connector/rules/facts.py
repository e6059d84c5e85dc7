"""Read a person's records and deals into canonical facts, following the mapping's tables.

Facts are lazy: a field is looked up and parsed only when a rule that applies to the person's
current stage reads it, which keeps an evaluation to a few microseconds. Values the mapping
cannot read (unknown picklist values, "n/a" scores, bad dates) become `Invalid` entries, never
exceptions, so the engine can answer with a Skipped decision.
"""

from __future__ import annotations

from collections.abc import Mapping as ReadOnly
from datetime import datetime
from operator import attrgetter
from types import MappingProxyType
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
    entered_prop: str | None  # the property holding when `source` entered `raw` (None: unmapped)

    @property
    def crm(self) -> Crm:
        return self.source.crm

    @property
    def record(self) -> TargetRef:
        return _ref(self.source)


# Evidence(...) without the generated __new__'s Python frame (one per stage-bearing record).
_evidence = tuple.__new__


def _ref(record: SourceRecord) -> TargetRef:
    return TargetRef(record.crm, record.object_type, record.record_id)


_NEWEST_FIRST = attrgetter("modified_at", "crm", "object_type", "record_id")
_DEAL_ORDER = attrgetter("crm", "object_type", "record_id")
# The deal facts of a person without deals (also the defaults the deal loop starts from).
_NO_DEALS: dict[str, Any] = {
    **dict.fromkeys(sorted(DEAL_FIELDS)),
    "open_deals": 0.0,
    "won_deals": 0.0,
    "lost_deals": 0.0,
}


def _order(records: tuple[SourceRecord, ...]) -> tuple[SourceRecord, ...]:
    """Live records, newest first, independent of the order they were given in."""
    if len(records) == 1:
        return () if records[0].archived else records
    if len(records) == 2:  # the common cross-CRM person: one comparison instead of a sort
        a, b = records
        if a.archived or b.archived:
            return () if a.archived and b.archived else ((b,) if a.archived else (a,))
        if a.modified_at != b.modified_at:
            return (a, b) if a.modified_at > b.modified_at else (b, a)
        if a.crm != b.crm:
            return (a, b) if a.crm > b.crm else (b, a)
        return (a, b) if _NEWEST_FIRST(a) >= _NEWEST_FIRST(b) else (b, a)  # ties keep the given order
    live = [r for r in records if not r.archived]
    if len(live) > 1:
        live.sort(key=_NEWEST_FIRST, reverse=True)
    return tuple(live)


# The `invalid` of facts nothing was found malformed in: shared and read-only (`_bad` replaces
# it with a dict of the evaluation's own), so a clean evaluation allocates no dict for it.
_NO_INVALID: ReadOnly[str, Invalid] = MappingProxyType({})


class Facts(dict[str, Any]):
    """Canonical field -> typed value, resolved on first read; a missing field reads as None."""

    __slots__ = ("evidence", "invalid", "mapping", "person", "records", "unknown")

    def __init__(self, person: Person, mapping: Mapping) -> None:
        self.person, self.mapping = person, mapping
        self.records = records = _order(person.records)
        self.invalid = _NO_INVALID
        # Tuples, grown by concatenation: almost every person has one stage value and no
        # unknown one, and an empty tuple costs no allocation.
        unknown: tuple[Invalid, ...] = ()
        evidence: tuple[Evidence, ...] = ()
        stage_reads = mapping.stage_reads
        for record in records:
            by_type = stage_reads.get(record.crm)
            reads = by_type.get(record.object_type) if by_type is not None else None
            if reads is None:
                continue
            props = record.properties
            for field, prop, values in reads:
                raw = props.get(prop)
                if not raw:
                    continue
                known = values.get(raw)
                if known is None:
                    reason = f"unknown {record.crm} value {raw!r}"
                    unknown += (Invalid(field, _ref(record), raw, reason),)
                else:
                    evidence += (_evidence(Evidence, (known[0], field, raw, record, known[1])),)
        self.unknown = unknown  # values no value map knows, reported even if unread
        self.evidence = evidence

    def _bad(self, name: str, bad: Invalid) -> None:
        """Record that `name` was read malformed (the first time, in a dict of this evaluation's)."""
        invalid = self.invalid
        if not isinstance(invalid, dict):
            self.invalid = invalid = {}
        invalid[name] = bad

    def __missing__(self, name: str) -> Any:
        """Read a field on first use: the first value in CRM precedence order (newest record
        first within a CRM); deal facts all at once; crm_stages from the evidence."""
        if name in DEAL_FIELDS:
            self._deal_facts()
            return self[name]
        value: Any = None
        reader = self.mapping.readers.get(name)
        if reader is not None:
            order, sources = reader
            records = self.records
            for crm in order:
                by_type = sources.get(crm)
                if by_type is None:
                    continue
                for record in records:
                    if record.crm != crm:
                        continue
                    src = by_type.get(record.object_type)
                    if src is None:
                        continue
                    raw = record.properties.get(src[0])
                    if raw is None or raw == "":
                        continue
                    convert = src[1]
                    if convert is None:
                        value = raw
                    else:
                        try:
                            value = convert(raw)
                        except BadValueError as exc:
                            self._bad(name, Invalid(name, _ref(record), raw, str(exc)))
                    self[name] = value
                    return value
        elif name == "crm_stages":
            value = frozenset(e.stage for e in self.evidence)
        self[name] = value
        return value

    def _deal_facts(self) -> None:
        self.update(_NO_DEALS)
        deals = self.person.deals
        if not deals:
            return
        open_phases: list[int] = []
        closed: dict[str, list[datetime]] = {"won": [], "lost": []}
        specs = self.mapping.deals
        for deal in sorted(deals, key=_DEAL_ORDER) if len(deals) > 1 else deals:
            spec = specs.get(deal.crm)
            if deal.archived or spec is None or deal.object_type != spec.object_type:
                continue
            props = deal.properties
            phase = spec.phase_of(props)
            if phase is None:
                raw = props.get(spec.stage_property) or ""
                bad = Invalid("deal_phase", _ref(deal), raw, f"unknown {deal.crm} deal stage {raw!r}")
                self.unknown += (bad,)  # reported; the deal counts nowhere
                continue
            if isinstance(phase, int):
                open_phases.append(phase)
                continue
            close = props.get(spec.close_date_property)
            try:
                closed[phase].append(parse_datetime(close) if close else deal.modified_at)
            except BadValueError as exc:
                name = _LAST_AT[phase]
                self._bad(name, Invalid(name, _ref(deal), close or "", str(exc)))
        won, lost = closed["won"], closed["lost"]
        if open_phases:
            self["open_deals"] = float(len(open_phases))
            self["deal_phase"] = float(max(open_phases))
        if won:
            self["won_deals"] = float(len(won))
            if "last_won_at" not in self.invalid:
                self["last_won_at"] = max(won)
        if lost:
            self["lost_deals"] = float(len(lost))
            if "last_lost_at" not in self.invalid:
                self["last_lost_at"] = max(lost)


_LAST_AT = {"won": "last_won_at", "lost": "last_lost_at"}


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
