"""One call from a mirror to a report: what the CLI and the demo use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector.mirror import Mirror
from connector.report.compute import Report, build_report
from connector.report.load import load_facts
from connector.report.periods import Period, Window, next_start, period_start
from connector.report.render_html import render_html
from connector.rules.compiled import Mapping
from connector.rules.loader import load_mapping

DEFAULT_PERIODS = 12


def default_window(period: Period, since: datetime | None, until: datetime | None) -> Window:
    """Until now (end of the current period) and the 12 periods before, unless given."""
    end = until or next_start(period_start(datetime.now(UTC), period), period)
    start = since or period_start(
        end - timedelta(days=7 * DEFAULT_PERIODS if period is Period.WEEK else 365), period
    )
    if start >= end:
        msg = f"--since {start:%Y-%m-%d} must be before --until {end:%Y-%m-%d}"
        raise ValueError(msg)
    return Window(start, end)


def report_from_mirror(
    mirror: Mirror,
    *,
    period: Period = Period.WEEK,
    since: datetime | None = None,
    until: datetime | None = None,
    target: float | None = None,
    mapping: Mapping | None = None,
) -> Report:
    with mirror.reader() as s:
        facts = load_facts(s, mapping or load_mapping())
    return build_report(facts, default_window(period, since, until), period, target)


def write_html(
    mirror: Mirror, path: Path, *, period: Period = Period.WEEK, target: float | None = None
) -> Path:
    """Write the self-contained HTML report; returns the absolute path (the demo prints it)."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report_from_mirror(mirror, period=period, target=target)), encoding="utf-8")
    return path
