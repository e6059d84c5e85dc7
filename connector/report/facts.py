"""The report's inputs: plain frozen facts, so the whole report is a pure function testable by hand.

`load.py` builds these from the mirror; tests build them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connector.model import Stage


@dataclass(frozen=True, slots=True)
class StageEntry:
    """A person entered a canonical stage (one `stage_history` row)."""

    person_id: str
    stage: Stage
    entered_at: datetime
    rule_id: str | None = None


@dataclass(frozen=True, slots=True)
class FirstContact:
    """An Inside Sales contact of a person (lead status moved to a working value, or SAL entry).

    Several per person are fine: speed to lead takes the earliest at or after the MQL entry.
    """

    person_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DealFact:
    """One opportunity: `phase` 1-5 while open, `won` True/False once closed (None while open)."""

    deal_id: str
    person_id: str | None
    phase: int | None
    amount: float | None
    created_at: datetime
    closed_at: datetime | None
    won: bool | None


@dataclass(frozen=True, slots=True)
class RecycleEntry:
    """A person sent back to Marketing/IS by a recycle rule."""

    person_id: str
    rule_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FunnelFacts:
    """Everything the report reads."""

    stage_entries: tuple[StageEntry, ...]
    first_contacts: tuple[FirstContact, ...] = ()
    deals: tuple[DealFact, ...] = ()
    recycles: tuple[RecycleEntry, ...] = ()
