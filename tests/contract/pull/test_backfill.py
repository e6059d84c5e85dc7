"""`revops-sync backfill`: a bounded re-read through the real CLI that never moves the live cursor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from connector.cli import app
from connector.crm.protocol import parse_crm_time
from connector.mirror.db import open_mirror
from connector.pull import pull_cycle
from tests.contract.pull.conftest import hubspot_reader, mirrored, rows
from tests.fixtures_hubspot import HubSpotSandbox


def cli_env(sandbox: HubSpotSandbox) -> dict[str, str]:
    return {"HUBSPOT_BASE_URL": sandbox.url, "HUBSPOT_ACCESS_TOKEN": sandbox.token}


def contacts_modified(sandbox: HubSpotSandbox) -> dict[str, datetime]:
    out = {}
    for r in sandbox.admin("GET", "state/contacts")["results"]:
        at = parse_crm_time(r["properties"]["lastmodifieddate"])
        assert at is not None
        out[r["id"]] = at
    return out


def test_backfill_rereads_a_range_and_leaves_the_live_cursor_alone(
    hubspot_sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    mirror = open_mirror(url)
    pull_cycle(mirror, [hubspot_reader(hubspot_sandbox)], now=datetime.now(UTC), streams=["hubspot.contacts"])
    cursor_before = rows(mirror, "SELECT stream, value, last_id FROM cursors")
    first = min(contacts_modified(hubspot_sandbox), key=int)
    edit = {"action": "edit", "type": "contacts", "id": first, "properties": {"jobtitle": "Backfilled"}}
    hubspot_sandbox.admin("POST", "activity", [edit])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")

    result = CliRunner().invoke(
        app,
        [
            "backfill",
            "--since",
            "2020-01-01",
            "--until",
            tomorrow,
            "--stream",
            "hubspot.contacts",
            "--db",
            url,
        ],
        env=cli_env(hubspot_sandbox),
    )

    assert result.exit_code == 0, result.output
    assert "hubspot.contacts" in result.output  # the per-stream summary (progress bar on by default)
    assert rows(mirror, "SELECT stream, value, last_id FROM cursors") == cursor_before
    assert json.loads(mirrored(mirror, "hubspot", "contacts")[first].properties)["jobtitle"] == "Backfilled"
    assert [r.kind for r in rows(mirror, "SELECT kind FROM runs WHERE kind = 'backfill'")] == ["backfill"]


def test_backfill_reads_only_the_range_asked_for(hubspot_sandbox: HubSpotSandbox, tmp_path: Path) -> None:
    modified = contacts_modified(hubspot_sandbox)
    times = sorted(modified.values())
    since, until = times[len(times) // 4], times[len(times) // 2]
    url = f"sqlite:///{tmp_path / 'm.db'}"
    iso = "%Y-%m-%dT%H:%M:%S"
    args = ["backfill", "--since", since.strftime(iso), "--until", until.strftime(iso), "--db", url]
    result = CliRunner().invoke(
        app, [*args, "--stream", "hubspot.contacts", "--no-progress"], env=cli_env(hubspot_sandbox)
    )
    assert result.exit_code == 0, result.output
    lo, hi = since.replace(microsecond=0), until.replace(microsecond=0)
    expected = {rid for rid, at in modified.items() if lo <= at <= hi}
    assert set(mirrored(open_mirror(url), "hubspot", "contacts")) == expected
    assert not rows(open_mirror(url), "SELECT * FROM cursors")


def test_backfill_refuses_an_empty_range_with_a_clear_message(
    hubspot_sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    args = ["backfill", "--since", "2026-02-01", "--until", "2026-01-01", "--db", url, "--no-progress"]
    result = CliRunner().invoke(app, args, env=cli_env(hubspot_sandbox))
    assert result.exit_code == 2
    assert "is not before --until" in result.output
