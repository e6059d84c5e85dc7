"""Access tokens and client secrets never appear in the logs (even at DEBUG) or in the mirror file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from connector.sandbox.runner import Sandboxes
from connector.sandbox.salesforce import SalesforceApp
from tests.e2e.harness import CLI, MAPPING, write_jobs

RUNS = {
    "sync-text": ["sync", "--log-level", "DEBUG"],
    "serve-json": ["serve", "--cycles", "1", "--health-port", "0", "--log-level", "DEBUG", "--log-json"],
}

PEOPLE = 300


@pytest.mark.parametrize("command", RUNS.values(), ids=RUNS.keys())
def test_tokens_never_reach_logs_or_mirror(boxes: Sandboxes, tmp_path: Path, command: list[str]) -> None:
    env = {
        **boxes.env(),
        "REVOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'mirror.db'}",
        "REVOPS_MAPPINGS": str(MAPPING),
        "REVOPS_JOBS": str(write_jobs(tmp_path / "jobs.yaml", MAPPING, every="1h")),
    }
    argv = [str(CLI), *command, "--env-file", str(tmp_path / "none.env")]
    run = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, timeout=120, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output.decode(errors="replace")[-3000:]
    assert b"DEBUG" in output  # the debug loggers really ran

    org = boxes.salesforce.app
    assert isinstance(org, SalesforceApp)
    issued = sorted(org.tokens)  # the sandbox's own record
    secrets = [boxes.hubspot_token, boxes.sf_client_secret, *issued]
    assert issued  # the connector logged in to Salesforce and got an access token
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("mirror.db*"))
    assert len(stored) > 100_000  # the cycle wrote records and decisions
    for secret in secrets:
        assert secret.encode() not in output, "a credential reached the logs"
        assert secret.encode() not in stored, "a credential reached the mirror"
