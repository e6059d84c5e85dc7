"""Inline SVG charts generated in Python: no JavaScript library, no network, readable without a browser.

Each chart is an accessible `<svg role="img">` with a <title> and <desc>; every data mark carries
its own <title> so hovering shows the exact figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from connector.report import fmt
from connector.report.compute import FUNNEL, PeriodRow, Rate, SpeedToLead
from connector.report.ranges import REFERENCES

PALETTE = ("#2f5d8a", "#3d7ab8", "#4f95cf", "#6aaed6", "#8cc3e0", "#b3d7ea")
SERIES = (
    ("mql_rate", "MQL rate", "#2f5d8a"),
    ("mql_to_opportunity", "MQL → opportunity", "#d9822b"),
    ("win_rate", "Win rate", "#2e8b57"),
)


def _svg(chart_id: str, size: tuple[int, int], title: str, desc: str, body: str) -> str:
    """Inline SVG in HTML5 needs no namespace URL, so the file holds no URL at all."""
    width, height = size
    return (
        f'<svg id="{chart_id}" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "lbl") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">{escape(text)}</text>'


def funnel_chart(totals: PeriodRow) -> str:
    """Centred bars, one per stage, widths proportional to the people entering it."""
    width, bar_h, gap, label_w = 540, 30, 10, 110
    top = max(1, *(totals.entered[s] for s in FUNNEL))
    span = width - label_w - 150
    parts: list[str] = []
    for i, stage in enumerate(FUNNEL):
        n = totals.entered[stage]
        w = max(2.0, span * n / top)
        x = label_w + (span - w) / 2
        y = 10 + i * (bar_h + gap)
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="4" fill="{PALETTE[i]}">'
            f"<title>{escape(f'{stage.value}: {n} people entered')}</title></rect>"
        )
        parts.append(
            _text(
                label_w - 10,
                y + bar_h / 2 + 5,
                fmt.stage_name(stage),
                anchor="end",
            )
        )
        parts.append(_text(label_w + span + 10, y + bar_h / 2 + 5, f"{n:,}", cls="num"))
        if i + 1 < len(FUNNEL):
            conv = totals.conversion[(stage, FUNNEL[i + 1])]
            parts.append(
                _text(label_w + span + 60, y + bar_h + gap / 2 + 4, f"↓ {fmt.pct(conv.value)}", cls="conv")
            )
    height = 20 + len(FUNNEL) * (bar_h + gap)
    desc = "; ".join(f"{s.value} {totals.entered[s]}" for s in FUNNEL)
    return _svg("funnel-chart", (width, height), "Funnel: people entering each stage", desc, "".join(parts))


def trend_chart(rows: Sequence[PeriodRow]) -> str:
    """One line per headline rate across periods, on a 0-100% axis, reference bands shaded."""
    width, height, left, right, top, bottom = 1080, 300, 50, 300, 15, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(rows) - 1)

    def px(i: int) -> float:
        return left + (plot_w * i / n if len(rows) > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top + plot_h * (1 - min(max(v, 0.0), 1.0))

    parts = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" class="grid"/>'
        )
        parts.append(_text(left - 6, py(tick) + 4, f"{tick:.0%}", anchor="end", cls="axis"))
    step = max(1, len(rows) // 8)
    for i, r in enumerate(rows):
        if i % step == 0:
            parts.append(_text(px(i), height - bottom + 18, r.label, anchor="middle", cls="axis"))
    for j, (key, label, color) in enumerate(SERIES):
        ref = REFERENCES[key]
        if ref.low is not None and ref.high is not None:
            y_hi, y_lo = py(ref.high), py(ref.low)
            band = f'x="{left}" y="{y_hi:.1f}" width="{plot_w}" height="{y_lo - y_hi:.1f}"'
            tip = escape(f"{label} reference {ref.describe()}")
            parts.append(f'<rect {band} fill="{color}" opacity="0.08"><title>{tip}</title></rect>')
        points = [(i, getattr(r, key)) for i, r in enumerate(rows)]
        known = [(i, rate.value) for i, rate in points if isinstance(rate, Rate) and rate.value is not None]
        if len(known) > 1:
            path = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in known)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for i, v in known:
            tip = escape(f"{rows[i].label} {label}: {fmt.rate(getattr(rows[i], key))}")
            dot = f'cx="{px(i):.1f}" cy="{py(v):.1f}" r="4" fill="{color}"'
            parts.append(f"<circle {dot}><title>{tip}</title></circle>")
        ly = top + 10 + j * 22
        parts.append(f'<rect x="{width - right + 15}" y="{ly - 9}" width="14" height="4" fill="{color}"/>')
        parts.append(_text(width - right + 35, ly - 3, f"{label} ({ref.describe()})", cls="legend"))
    desc = f"{len(rows)} periods; shaded bands are the reference ranges"
    return _svg("trend-chart", (width, height), "Conversion trends per period", desc, "".join(parts))


def speed_chart(speed: SpeedToLead) -> str:
    """Histogram of MQL → first contact: green within 5 min, amber within 24 h, red later, grey never."""
    width, height, left, top, bottom = 540, 260, 10, 20, 45
    bins = list(speed.histogram)
    top_n = max(1, *(n for _, n in bins))
    slot = (width - left - 10) / len(bins)
    colors = ("#2e8b57", "#e0a030", "#e0a030", "#e0a030", "#c0392b", "#c0392b", "#9aa5b1")
    plot_h = height - top - bottom
    parts = [f'<line x1="{left}" x2="{width - 10}" y1="{top + plot_h}" y2="{top + plot_h}" class="grid"/>']
    for i, ((label, n), color) in enumerate(zip(bins, colors, strict=True)):
        h = plot_h * n / top_n
        x = left + i * slot + slot * 0.15
        share = n / speed.mqls if speed.mqls else 0.0
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" rx="3" '
            f'fill="{color}"><title>{escape(f"{label}: {n} MQLs ({share:.0%})")}</title></rect>'
        )
        parts.append(_text(x + slot * 0.35, top + plot_h - h - 5, str(n), anchor="middle", cls="num"))
        parts.append(_text(x + slot * 0.35, height - bottom + 18, label, anchor="middle", cls="axis"))
    desc = "; ".join(f"{label}: {n}" for label, n in bins)
    return _svg(
        "speed-chart",
        (width, height),
        "Speed to lead: MQL to first Inside Sales contact",
        desc,
        "".join(parts),
    )
