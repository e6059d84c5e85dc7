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
from typing import Any

from connector.model import Crm, Person, SourceRecord, TargetRef
from connector.rules.compiled import Mapping, StageValue
from connector.rules.fields import DEAL_FIELDS, BadValueError, Invalid, parse_datetime

# A CRM stage value that reads as a canonical stage, and the record showing it.
Evidence = tuple[StageValue, SourceRecord]


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

    __slots__ = ("current", "entered", "evidence", "invalid", "mapping", "person", "records", "unknown")

    def __init__(self, person: Person, mapping: Mapping, entered: datetime | None = None) -> None:
        """`entered`: when the person entered their current stage (the fact stage_entered_at)."""
        self.person, self.mapping = person, mapping
        self.current, self.entered = person.stage, entered
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
                    evidence += ((known, record),)
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
            if not self.person.deals:  # only the field asked for: the others may go unread
                value = self[name] = _NO_DEALS[name]
                return value
            self._deal_facts()
            return self[name]
        # the person's stage and its entry time, unless unknown (then a field of that name)
        if name == "stage" and self.current is not None:
            value = self[name] = self.current
            return value
        if name == "stage_entered_at" and self.entered is not None:
            value = self[name] = self.entered
            return value
        value = None
        reader = self.mapping.readers.get(name)
        if reader is not None:
            records = self.records
            for crm, by_type in reader:
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
            value = frozenset(known.stage for known, _ in self.evidence)
        self[name] = value
        return value

    def _deal_facts(self) -> None:
        """All deal facts at once: counts per outcome, the highest open phase, the latest close
        date per outcome (a malformed close date makes that outcome's date invalid)."""
        self.update(_NO_DEALS)
        deals = self.person.deals
        if not deals:
            return
        open_deals, top_phase = 0, 0
        won: datetime | None = None
        lost: datetime | None = None
        won_deals = lost_deals = 0
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
                open_deals += 1
                if open_deals == 1 or phase > top_phase:
                    top_phase = phase
                continue
            close = props.get(spec.close_date_property)
            try:
                at = parse_datetime(close) if close else deal.modified_at
            except BadValueError as exc:
                name = _LAST_AT[phase]
                self._bad(name, Invalid(name, _ref(deal), close or "", str(exc)))
                continue
            if phase == "won":
                won_deals += 1
                if won is None or at > won:  # the first of equal times, as max() keeps
                    won = at
            else:
                lost_deals += 1
                if lost is None or at > lost:
                    lost = at
        if open_deals:
            self["open_deals"] = float(open_deals)
            self["deal_phase"] = float(top_phase)
        if won is not None:
            self["won_deals"] = float(won_deals)
            if "last_won_at" not in self.invalid:
                self["last_won_at"] = won
        if lost is not None:
            self["lost_deals"] = float(lost_deals)
            if "last_lost_at" not in self.invalid:
                self["last_lost_at"] = lost


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
