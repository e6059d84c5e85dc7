"""Report windows and periods: ISO weeks (Monday 00:00 UTC) or calendar months, clipped to the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"


class Window(NamedTuple):
    """Half-open [since, until) in UTC."""

    since: datetime
    until: datetime


def period_start(at: datetime, period: Period) -> datetime:
    """Start of the week (Monday) or month holding `at`, in UTC."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_start(start: datetime, period: Period) -> datetime:
    if period is Period.WEEK:
        return start + timedelta(days=7)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def label_of(start: datetime, period: Period) -> str:
    """`2026-W47` or `2026-11`."""
    if period is Period.WEEK:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year}-{start.month:02d}"


def periods_in(window: Window, period: Period) -> list[tuple[str, datetime, datetime]]:
    """Every period overlapping the window, as (label, start, end) clipped to the window."""
    out: list[tuple[str, datetime, datetime]] = []
    start = period_start(window.since, period)
    while start < window.until:
        end = next_start(start, period)
        out.append((label_of(start, period), max(start, window.since), min(end, window.until)))
        start = end
    return out
