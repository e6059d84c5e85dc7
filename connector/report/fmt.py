"""Number formatting shared by the terminal and HTML renderers."""

from __future__ import annotations

from connector.model import Stage
from connector.report.compute import Rate


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def rate(r: Rate) -> str:
    """`33.3% (1/3)`: the ratio beside its counts, so a reader can check it."""
    return "—" if r.value is None else f"{r.value:.1%} ({r.num}/{r.den})"


def hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 24:.1f} d" if value >= 48 else f"{value:.1f} h"


def minutes(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.0f} min"
    return f"{value / 60:.1f} h" if value < 2880 else f"{value / 1440:.1f} d"


def money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def figure(value: float | None, unit: str) -> str:
    return minutes(value) if unit == "minutes" else pct(value)


def stage_name(stage: Stage) -> str:
    """`MQL`, `SAL`, `SQL` stay acronyms; `lead` reads `Lead`."""
    return stage.value.upper() if stage.value in {"mql", "sal", "sql"} else stage.value.capitalize()
