"""Terminal, HTML and JSON show the computed figures; the HTML is self-contained and escapes CRM text."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from connector.report.compute import Report, build_report
from connector.report.facts import RecycleEntry
from connector.report.periods import Period
from connector.report.render_html import render_html
from connector.report.render_json import render_json
from connector.report.render_terminal import render_terminal
from tests.unit.report.history import FACTS, WINDOW

HOSTILE_RULE = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def report() -> Report:
    hostile = dataclasses.replace(
        FACTS, recycles=(*FACTS.recycles, RecycleEntry("p4", HOSTILE_RULE, WINDOW.since))
    )
    return build_report(hostile, WINDOW, Period.WEEK, target=50_000)


@pytest.fixture(scope="module")
def html(report: Report) -> str:
    return render_html(report, generated_at=datetime(2026, 11, 16, tzinfo=UTC))


@pytest.mark.parametrize(
    "pattern",
    [r"https?:", r"""(?:src|href)\s*=""", r"@import", r"<link\b", r"url\("],
)
def test_html_references_nothing_outside_the_file(html: str, pattern: str) -> None:
    assert re.search(pattern, html, re.IGNORECASE) is None


def test_html_has_three_accessible_charts(html: str) -> None:
    charts = re.findall(r'<svg id="([a-z-]+)" class="chart" role="img"[^>]*aria-labelledby="\1-t \1-d"', html)
    assert charts == ["funnel-chart", "speed-chart", "trend-chart"]
    assert '<title id="funnel-chart-t">Funnel: people entering each stage</title>' in html


def test_html_escapes_crm_text(html: str) -> None:
    assert HOSTILE_RULE not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # only the page's own marker script


@pytest.mark.parametrize(
    "fragment",
    [
        '<span class="flag high">▲ above</span>',  # MQL rate 50% above 10-25%
        "33.3% (1/3)",  # MQL -> opportunity
        "200,000",  # pipeline needed = 50,000 / 0.25
        "IS conversion (MQL → opportunity) limits revenue most",
        "<td>2026-W46</td>",
        '<span class="flag low">0.0% (0/2) ▼</span>',  # W46 MQL -> opportunity below 30-50%
        "<td>33.3% (1/3)</td>",  # total MQL -> opportunity inside its range: not marked
    ],
)
def test_html_shows_the_figures(html: str, fragment: str) -> None:
    assert fragment in html


def test_json_round_trips_the_figures(report: Report) -> None:
    data = json.loads(render_json(report))
    assert data["window"] == {"since": "2026-11-02T00:00:00+00:00", "until": "2026-11-16T00:00:00+00:00"}
    assert data["totals"]["entered"] == {
        "lead": 6,
        "mql": 3,
        "sal": 2,
        "sql": 1,
        "opportunity": 1,
        "customer": 1,
    }
    assert data["totals"]["conversion"]["mql->sal"] == {"num": 2, "den": 3, "value": 2 / 3}
    assert data["field_sales"]["pipeline_needed"] == 200_000
    assert {f["key"]: f["status"] for f in data["figures"]}["mql_rate"] == "high"
    assert data["bottleneck"]["key"] == "mql_to_opportunity"


def test_terminal_prints_flags_and_the_bottleneck(report: Report) -> None:
    console = Console(record=True, width=200)
    render_terminal(report, console)
    text = console.export_text()
    assert re.search(r"MQL rate \(lead → MQL\)\s+│\s+50\.0%\s+│\s+10%-25%\s+│\s+▲ above", text)
    assert "limits revenue most" in text
    assert "172,000" in text  # shortfall
