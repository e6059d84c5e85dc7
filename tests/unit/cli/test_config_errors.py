"""A bad configuration value stops every command with one line naming the variable: exit 2, no
traceback (before, `plan`, `sync`, `serve`, `why` and `report` printed a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app
from connector.config import AMBIGUOUS_GRACE_ENV

COMMANDS = [
    ["pull"],
    ["backfill", "--since", "2026-01-01"],
    ["serve"],
    ["sync"],
    ["plan"],
    ["why", "someone@example.com"],
    ["report"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("variable", "raw"), [("HUBSPOT_SEARCH_RATE", "fast"), (AMBIGUOUS_GRACE_ENV, "2m")], ids=["rate", "grace"]
)
def test_a_bad_setting_exits_2_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], variable: str, raw: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout is read
    env = {variable: raw, "REVOPS_DATABASE_URL": f"sqlite:///{tmp_path}/m.db"}
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == 2, result.output
    assert f"error: {variable}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "m.db").exists()  # refused before anything was opened
