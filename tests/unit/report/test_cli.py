"""`revops-sync report` through the real CLI app on a small mirror: JSON, HTML file, bad flags named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app
from tests.unit.report.mirror_fixture import build_mirror

WINDOW = ["--since", "2026-11-02", "--until", "2026-11-09"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    mirror, _, _ = build_mirror(tmp_path / "mirror.db")
    mirror.close()
    return f"sqlite:///{tmp_path / 'mirror.db'}"


def test_json_and_html(db: str, tmp_path: Path) -> None:
    html = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(
        app, ["report", "--db", db, *WINDOW, "--json", "--target", "1000", "--html", str(html)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # a: lead then MQL; b: MQL then recycled. The HubSpot deal closed won: 1/1.
    assert data["totals"]["entered"]["lead"] == 1
    assert data["totals"]["entered"]["mql"] == 2
    assert data["speed"]["within_5_min"] == {
        "num": 0,
        "den": 2,
        "value": 0.0,
    }  # contacts came 10 and 80 min later
    assert data["speed"]["median_minutes"] == 45.0  # median(10, 80)
    assert data["field_sales"]["win_rate"]["value"] == 1.0
    assert data["field_sales"]["pipeline_needed"] == 1000.0  # 1,000 / 100%
    assert [r["rule_id"] for r in data["recycles"]] == ["mql-no-sql-30d"]
    assert html.read_text(encoding="utf-8").count('class="chart"') == 3


def test_terminal_tables(db: str) -> None:
    result = CliRunner().invoke(app, ["report", "--db", db, *WINDOW, "--period", "month"])
    assert result.exit_code == 0, result.output
    assert "2026-11" in result.stdout
    assert "Bottleneck" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last tuesday"], "--since 'last tuesday'"),
        (["--since", "2026-11-09", "--until", "2026-11-02"], "must be before --until"),
        (["--period", "year"], "'year' is not one of"),
    ],
)
def test_bad_flags_are_named(db: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["report", "--db", db, *args])
    assert result.exit_code == 2
    assert message in result.output
