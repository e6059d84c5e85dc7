"""`--html PATH`: one self-contained file (inline CSS, inline SVG, a tiny inline script; no URL at all).

It opens from a USB stick on a plane: nothing is fetched. The script only marks the page rendered
(`data-rendered="ok"`, checked by the headless-browser test) and never builds content.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from connector.report import charts, fmt, sections
from connector.report.compute import Report

CSS = """
:root {
  --ink:#1f2933;
  --muted:#616e7c;
  --line:#e4e7eb;
  --bg:#f5f7fa;
  --ok:#2e8b57;
  --low:#c0392b;
  --high:#b7791f;
}
* { box-sizing: border-box; }
body {
  margin:0;
  font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink);
  background:var(--bg);
}
header { background:#1f3a5f; color:#fff; padding:20px 32px; }
header h1 { margin:0; font-size:22px; }
header p { margin:4px 0 0; opacity:.85; }
main { max-width:1180px; margin:0 auto; padding:20px 32px 40px; }
.cards {
  display:grid;
  grid-template-columns:repeat(auto-fit,minmax(200px,1fr));
  gap:12px;
  margin-bottom:16px;
}
.card {
  background:#fff;
  border:1px solid var(--line);
  border-radius:8px;
  padding:12px 14px;
  border-top:4px solid var(--ok);
}
.card.low { border-top-color:var(--low); }
.card.high { border-top-color:var(--high); }
.card.na { border-top-color:#9aa5b1; }
.card .v { font-size:24px; font-weight:650; }
.card .l { color:var(--muted); font-size:12px; }
.bottleneck {
  background:#fff8e6;
  border:1px solid #f0d48a;
  border-left:6px solid var(--high);
  border-radius:8px;
  padding:12px 16px;
  margin-bottom:16px;
}
.grid2 { display:grid; grid-template-columns:1fr 1fr; gap:16px; }
@media (max-width: 1000px) { .grid2 { grid-template-columns:1fr; }
}
section {
  background:#fff;
  border:1px solid var(--line);
  border-radius:8px;
  padding:14px 18px;
  margin-bottom:16px;
  overflow-x:auto;
}
h2 { font-size:15px; margin:0 0 10px; }
svg.chart { width:100%; height:auto; display:block; }
svg .lbl { font-size:13px; fill:var(--ink); }
svg .num { font-size:13px; font-weight:600; fill:var(--ink); }
svg .conv { font-size:12px; fill:var(--muted); }
svg .axis { font-size:11px; fill:var(--muted); }
svg .legend { font-size:12px; fill:var(--ink); }
svg .grid { stroke:var(--line); stroke-width:1; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td {
  padding:5px 10px;
  border-bottom:1px solid var(--line);
  text-align:right;
  white-space:nowrap;
}
th:first-child, td:first-child { text-align:left; }
th { color:var(--muted); font-weight:600; font-size:12px; }
tr.total td { font-weight:650; border-top:2px solid var(--ink); }
.flag { font-weight:650; }
.flag.ok { color:var(--ok); }
.flag.low { color:var(--low); }
.flag.high { color:var(--high); }
footer { color:var(--muted); font-size:12px; }
"""

SCRIPT = """
(function () {
  var charts = document.querySelectorAll("svg.chart");
  document.body.dataset.charts = String(charts.length);
  document.body.dataset.rendered = charts.length === 3 ? "ok" : "missing-charts";
})();
"""


def _cell(cell: sections.Cell) -> str:
    if isinstance(cell, sections.Flag) and cell.marked:
        return f'<td><span class="flag {cell.status.replace("/", "")}">{escape(str(cell))}</span></td>'
    return f"<td>{escape(str(cell))}</td>"


def _table(section: sections.Section) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in section.header)
    body = []
    for i, row in enumerate(section.rows):
        cls = ' class="total"' if section.strong_last and i == len(section.rows) - 1 else ""
        body.append(f"<tr{cls}>{''.join(_cell(c) for c in row)}</tr>")
    return (
        f'<section id="{section.key}"><h2>{escape(section.title)}</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )


def _cards(report: Report) -> str:
    cards = []
    for f in report.figures:
        value = fmt.figure(f.value, f.reference.unit)
        flag = sections.Flag(f.status)
        css = f.status.replace("/", "")  # n/a -> na: a plain class name
        cards.append(
            f'<div class="card {css}"><div class="l">{escape(f.label)}</div>'
            f'<div class="v">{escape(value)}</div>'
            f'<div class="l">reference {escape(f.reference.describe())} · '
            f'<span class="flag {css}">{escape(str(flag))}</span></div></div>'
        )
    return f'<div class="cards" id="figures-cards">{"".join(cards)}</div>'


def _chart(title: str, svg: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{svg}</section>"


def render_html(report: Report, generated_at: datetime | None = None) -> str:
    """The whole page as one string."""
    w = report.window
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    b = report.bottleneck
    neck = escape(b.sentence if b else "Not enough data to name a bottleneck (no closed deals or no leads).")
    tables = {s.key: s for s in (build(report) for build in sections.ALL)}
    body = [
        _cards(report),
        f'<div class="bottleneck" id="bottleneck"><strong>Bottleneck.</strong> {neck}</div>',
        '<div class="grid2">',
        _chart("Funnel (whole window)", charts.funnel_chart(report.totals)),
        _chart("Speed to lead", charts.speed_chart(report.speed)),
        "</div>",
        _chart(f"Conversion trends per {report.period.value}", charts.trend_chart(report.periods)),
        *(_table(tables[k]) for k in ("funnel", "conversion", "headline", "figures")),
        '<div class="grid2">',
        _table(tables["speed"]),
        _table(tables["field-sales"]),
        "</div>",
        _table(tables["recycle"]),
    ]
    span = f"{w.since:%Y-%m-%d} → {w.until:%Y-%m-%d} (UTC), per {report.period.value}"
    note = ""
    if report.history_since is not None and report.history_since > w.since:
        note = f'<p class="note">{escape(sections.history_note(report.history_since))}</p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>THE MODEL funnel report {escape(span)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>THE MODEL funnel report</h1><p>{escape(span)}</p>{note}</header>"
        f"<main>{''.join(body)}<footer>Generated by revops-sync at {escape(when)} from the local mirror. "
        "Conversions are cohort rates: of the people entering a stage in the period, the share that "
        "reached the next stage or beyond by the end of the window.</footer></main>"
        f"<script>{SCRIPT}</script></body></html>"
    )
