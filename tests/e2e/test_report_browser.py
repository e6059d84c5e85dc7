"""The HTML report opened in a real headless Chromium: charts in the rendered DOM, no script errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.report.browser_check import check_report, find_chromium
from connector.report.compute import build_report
from connector.report.periods import Period
from connector.report.render_html import render_html
from tests.unit.report.history import FACTS, WINDOW

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)"
)


def test_report_renders_its_charts_in_headless_chromium(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    html = tmp_path / "report.html"
    report = build_report(FACTS, WINDOW, Period.WEEK, target=50_000)
    html.write_text(render_html(report, generated_at=datetime(2026, 11, 16, tzinfo=UTC)), encoding="utf-8")
    shot = tmp_path / "report.png"

    result = check_report(html, CHROMIUM, screenshot=shot)

    assert result.errors == ()
    assert result.rendered, "the inline script did not mark the page rendered"
    assert result.charts == 3
    for chart in ("funnel-chart", "trend-chart", "speed-chart"):
        assert f'id="{chart}"' in result.dom
    assert shot.stat().st_size > 10_000  # a real full-page picture, not an empty frame


def test_a_script_error_is_reported(tmp_path: Path) -> None:
    """The check must be able to fail: a page whose script throws is caught."""
    assert CHROMIUM is not None
    html = tmp_path / "broken.html"
    html.write_text(
        "<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>", encoding="utf-8"
    )

    result = check_report(html, CHROMIUM)

    assert any("Uncaught ReferenceError" in e for e in result.errors)
    assert not result.rendered
    assert not result.ok
