"""Canonical fields: parsing raw CRM strings into typed values, per the mapping's field table.

A value that does not parse is never an exception: it becomes an `Invalid` the engine turns
into a Skipped decision naming the record and field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.model import TargetRef

# Fields the engine derives from the person itself, readable by any rule.
DERIVED_FIELDS: dict[str, str] = {
    "stage": "stage",
    "stage_entered_at": "datetime",
    "crm_stages": "list",
    "open_deals": "number",
    "won_deals": "number",
    "lost_deals": "number",
    "deal_phase": "number",
    "last_lost_at": "datetime",
    "last_won_at": "datetime",
}
DEAL_FIELDS = frozenset(
    {"open_deals", "won_deals", "lost_deals", "deal_phase", "last_lost_at", "last_won_at"}
)

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class BadValueError(ValueError):
    """A raw value that does not read as its field's type."""


def parse_number(raw: str) -> float:
    """CRM numbers arrive as text ("42", "42.5"); anything else is a bad value."""
    try:
        value = float(raw)
    except ValueError:
        raise BadValueError(f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise BadValueError(f"{raw!r} is not a finite number")
    return value


def parse_bool(raw: str) -> bool:
    """Salesforce checkboxes arrive as "true"/"false"."""
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise BadValueError(f"{raw!r} is not true/false")


def parse_datetime(raw: str) -> datetime:
    """ISO 8601 (with Z or offset), a bare date (midnight UTC), or epoch milliseconds; naive = UTC."""
    text = raw.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        value = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise BadValueError(f"{raw!r} is not a date/time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_text(raw: str) -> str:
    return raw


PARSERS: dict[str, Callable[[str], Any]] = {
    "string": parse_text,
    "number": parse_number,
    "bool": parse_bool,
    "datetime": parse_datetime,
}


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a field could not be read, and from where."""

    field: str
    record: TargetRef
    raw: str
    reason: str


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def iso_text(value: datetime) -> str:
    """`value.isoformat()`, built from a table for the usual UTC time in whole seconds.

    datetime.isoformat costs about 10k machine instructions for an aware time (it formats
    printf-style and calls tzinfo.utcoffset through a method look-up); provenance records the
    stage entry time as text in most decisions. Any other time takes isoformat itself.
    """
    if (
        type(value) is datetime  # a subclass may format itself otherwise
        and value.tzinfo is UTC
        and not value.microsecond
        and value.year >= 1000  # isoformat pads the year to four digits
    ):
        two = _TWO_DIGITS
        return (
            f"{value.year}-{two[value.month]}-{two[value.day]}"
            f"T{two[value.hour]}:{two[value.minute]}:{two[value.second]}+00:00"
        )
    return value.isoformat()


PLAIN_TYPES = frozenset(  # recorded as they are (subclasses such as Stage take the slow path)
    {str, int, float, bool, type(None)}
)


def input_value(value: Any) -> str | int | float | bool | None:
    """A fact as recorded in a decision's provenance (JSON-friendly, stable)."""
    if type(value) in PLAIN_TYPES:  # the common case, cheaper than isinstance with a union
        plain: str | int | float | bool | None = value
        return plain
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return iso_text(value)
    if isinstance(value, frozenset | tuple | list):
        return ",".join(sorted(str(v) for v in value))
    return str(value)
