"""The report as rich tables for the terminal (what a RevOps lead reads out at the weekly handover)."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from connector.report import sections
from connector.report.compute import Report
from connector.report.ranges import Status

STATUS_STYLE: dict[Status, str] = {"ok": "green", "low": "bold red", "high": "bold yellow", "n/a": "dim"}


def _cell(cell: sections.Cell) -> Text | str:
    if isinstance(cell, sections.Flag):
        return Text(str(cell), style=STATUS_STYLE[cell.status]) if cell.marked else str(cell)
    return cell


def _table(section: sections.Section) -> Table:
    t = Table(title=section.title, title_justify="left")
    for i, name in enumerate(section.header):
        t.add_column(name, justify="left" if i == 0 else "right")
    for i, row in enumerate(section.rows):
        strong = section.strong_last and i == len(section.rows) - 1
        t.add_row(*(_cell(c) for c in row), style="bold" if strong else None)
    return t


def render_terminal(report: Report, console: Console) -> None:
    """Print every section; the bottleneck last, as the meeting's takeaway."""
    w = report.window
    span = f"{w.since:%Y-%m-%d} → {w.until:%Y-%m-%d} (UTC)"
    console.print(f"[bold]THE MODEL funnel report[/bold]  {span}, per {report.period.value}")
    if report.history_since is not None and report.history_since > w.since:
        console.print(f"[dim]{sections.history_note(report.history_since)}[/dim]")
    for build in sections.ALL:
        console.print(_table(build(report)))
    b = report.bottleneck
    body = b.sentence if b else "Not enough data to name a bottleneck (no closed deals or no leads)."
    console.print(Panel(Text(body), title="Bottleneck", title_align="left", border_style="magenta"))
