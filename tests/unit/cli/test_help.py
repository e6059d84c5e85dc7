"""Every command, including ones added later by any area, has help with an `Example:` line.

The command tree is walked from the click object typer builds, so a new command or sub-group is
covered without touching this test (sqlite-utils' test_docs.py idea).
"""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from connector.cli import app


def _walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if hasattr(command, "commands"):  # a group (typer's vendored click)
        found = []
        for name, sub in sorted(command.commands.items()):
            found += _walk(sub, (*path, name))
        return found
    return [path]


COMMANDS = _walk(typer.main.get_command(app))


def test_the_issue_commands_are_registered() -> None:
    names = {" ".join(p) for p in COMMANDS}
    required = {"serve", "sync", "plan", "why", "demo", "validate", "backfill"}
    assert required <= names, required - names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    example = [line for line in result.output.splitlines() if "Example:" in line]
    assert example, f"`revops-sync {' '.join(path)} --help` has no 'Example:' line"
    assert f"revops-sync {' '.join(path)}" in example[0]
