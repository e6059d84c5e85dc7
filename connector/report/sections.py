"""The report's tables as plain data (title, header, rows), so the terminal and HTML show the same figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from connector.report import fmt
from connector.report.compute import FUNNEL, STEPS, Report
from connector.report.ranges import REFERENCES, Status

STATUS_TEXT: dict[Status, str] = {"ok": "ok", "low": "▼ below", "high": "▲ above", "n/a": "no data"}


@dataclass(frozen=True, slots=True)
class Flag:
    """A cell carrying a reference-range status (coloured by the renderer); text defaults to the status."""

    status: Status
    text: str | None = None

    @property
    def marked(self) -> bool:
        """Colour it: a status cell always, a figure only when outside its range."""
        return self.text is None or self.status in {"low", "high"}

    def __str__(self) -> str:
        if self.text is None:
            return STATUS_TEXT[self.status]
        return (
            f"{self.text} {'▲' if self.status == 'high' else '▼'}"
            if self.status in {"low", "high"}
            else self.text
        )


def flagged(key: str, shown: str, value: float | None) -> Cell:
    """A per-period figure, marked when outside its reference range."""
    return Flag(REFERENCES[key].status(value), shown)


Cell = str | Flag


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    strong_last: bool = False  # the last row is the window's total


def funnel(report: Report) -> Section:
    rows = tuple((r.label, *(f"{r.entered[s]:,}" for s in FUNNEL)) for r in (*report.periods, report.totals))
    header = ("period", *(fmt.stage_name(s) for s in FUNNEL))
    return Section("funnel", "People entering each stage", header, rows, strong_last=True)


def conversions(report: Report) -> Section:
    rows: list[tuple[Cell, ...]] = [
        (r.label, *(fmt.rate(r.conversion[s]) for s in STEPS)) for r in (*report.periods, report.totals)
    ]
    rows.append(
        ("median time in stage", *(fmt.hours(report.totals.median_hours_in_stage[a]) for a, _ in STEPS))
    )
    header = ("period", *(f"{fmt.stage_name(a)} → {fmt.stage_name(b)}" for a, b in STEPS))
    title = "Stage-to-stage conversion (of those entering, share reaching the next stage or beyond)"
    return Section("conversion", title, header, tuple(rows))


def headline(report: Report) -> Section:
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (
            r.label,
            flagged("mql_rate", fmt.rate(r.mql_rate), r.mql_rate.value),
            flagged("mql_to_opportunity", fmt.rate(r.mql_to_opportunity), r.mql_to_opportunity.value),
            flagged("win_rate", fmt.rate(r.win_rate), r.win_rate.value),
            f"{r.won} / {r.lost}",
            flagged("churn_monthly", fmt.pct(r.churn_monthly), r.churn_monthly),
            flagged("speed_to_lead_median", fmt.minutes(r.speed_median_minutes), r.speed_median_minutes),
        )
        for r in (*report.periods, report.totals)
    )
    header = ("period", "MQL rate", "MQL → opp", "win rate", "won / lost", "churn / month", "speed to lead")
    title = "Headline rates per period (▲ above / ▼ below the reference range)"
    return Section("headline", title, header, rows, strong_last=True)


def figures(report: Report) -> Section:
    rows = tuple(
        (f.label, fmt.figure(f.value, f.reference.unit), f.reference.describe(), Flag(f.status))
        for f in report.figures
    )
    return Section(
        "figures",
        "Figures against THE MODEL reference ranges",
        ("figure", "value", "reference", "flag"),
        rows,
    )


def speed(report: Report) -> Section:
    s = report.speed
    rows: list[tuple[Cell, ...]] = [
        ("MQLs / contacted", f"{s.mqls} / {s.contacted}"),
        ("median", fmt.minutes(s.median_minutes)),
        ("within 5 minutes (ideal)", fmt.rate(s.within_5_min)),
        ("within 24 hours (minimum line)", fmt.rate(s.within_24_h)),
    ]
    rows += [(f"  {label}", str(n)) for label, n in s.histogram]
    return Section(
        "speed", "Speed to lead: MQL → first Inside Sales contact", ("measure", "value"), tuple(rows)
    )


def recycle(report: Report) -> Section:
    rows = tuple((r.rule_id, str(r.recycled), str(r.reconverted), fmt.rate(r.rate)) for r in report.recycles)
    header = ("rule", "recycled", "re-converted", "rate")
    title = "Recycle: people sent back per rule, and how many became MQL (or beyond) again"
    return Section("recycle", title, header, rows or (("(none in this window)", "0", "0", "—"),))


def field_sales(report: Report) -> Section:
    fs = report.field_sales
    missing = f" ({fs.open_without_amount} without amount)" if fs.open_without_amount else ""
    rows: list[tuple[Cell, ...]] = [
        (f"open, phase {p}" if p != "unknown" else "open, phase unknown", str(n))
        for p, n in fs.open_by_phase.items()
    ]
    rows += [
        ("closed won / lost", f"{fs.won} / {fs.lost}"),
        ("win rate", fmt.rate(fs.win_rate)),
        ("average deal size (won)", fmt.money(fs.avg_deal_size)),
        ("open pipeline", fmt.money(fs.pipeline) + missing),
    ]
    if fs.target is not None:
        rows += [
            ("target", fmt.money(fs.target)),
            ("pipeline needed (target ÷ win rate)", fmt.money(fs.pipeline_needed)),
            ("coverage (pipeline ÷ target)", "—" if fs.coverage is None else f"{fs.coverage:.2f}×"),  # noqa: RUF001
            ("shortfall", fmt.money(fs.shortfall)),
        ]
    return Section("field-sales", "Field Sales", ("measure", "value"), tuple(rows))


def history_note(since: datetime) -> str:
    """Why early periods show deals but no stage entries: the mirror judges people from its first cycle on."""
    first = f"{since:%Y-%m-%d %H:%M} UTC"
    return f"Stage history begins {first} (the connector's first cycle); earlier periods show deals only."


ALL: tuple[Callable[[Report], Section], ...] = (
    funnel,
    conversions,
    headline,
    figures,
    speed,
    recycle,
    field_sales,
)
