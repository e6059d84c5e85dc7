"""kill -9 between outbox commit, CRM 2xx and local commit: after a restart every decided write
is in the CRM and no task exists twice. The cycle runs in a child process (`python -m
connector.sync`) that `REVOPS_CRASH_AT` ends with os._exit(137); the sandboxes live in this test
process, so they survive the child and keep the CRM state to check."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.model import Crm
from connector.push.crash import ENV, EXIT_CODE
from connector.push.writes import WriteKind
from tests.contract.push.harness import Crms, outbox, start_crms

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def crms(tmp_path: Path) -> Iterator[Crms]:
    sandboxes = start_crms(tmp_path, people=300)
    try:
        yield sandboxes
    finally:
        sandboxes.stop()


def run_child(crms: Crms, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in crms.env().items() if k != ENV}
    if crash_at:
        env[ENV] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "connector.sync"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_converged(crms: Crms) -> None:
    """Every queued write settled, every sent stage value in the CRM, every task exactly once."""
    rows = outbox(crms)
    assert {status for status, _ in rows} <= {"sent", "dead", "conflict"}
    for status, write in rows:
        if status != "sent":
            continue
        if write.kind is WriteKind.STAGE:
            assert write.record_id is not None
            if write.crm is Crm.HUBSPOT:
                held = crms.hubspot_contact(write.record_id)
            else:
                held = crms.salesforce_record(write.object_type, write.record_id)
            assert {f: held.get(f) for f in write.properties} == dict(write.properties)
        else:
            keys = crms.hubspot_task_keys() if write.crm is Crm.HUBSPOT else crms.salesforce_task_keys()
            assert keys[write.key] == 1, f"task {write.key} exists {keys[write.key]} times"
    for keys in (crms.hubspot_task_keys(), crms.salesforce_task_keys()):
        assert max(keys.values(), default=1) == 1


@pytest.mark.parametrize(
    "crash_at",
    [
        "after_crm_2xx:hubspot:task",  # HubSpot created the task; we never recorded it
        "after_crm_2xx:hubspot:clear",  # between the two requests of a backward move
        pytest.param("after_outbox_commit", marks=pytest.mark.slow),
        pytest.param("after_crm_2xx:hubspot:stage", marks=pytest.mark.slow),
        pytest.param("after_crm_2xx:salesforce:task", marks=pytest.mark.slow),
        pytest.param("after_local_commit:salesforce:stage", marks=pytest.mark.slow),
        pytest.param("after_local_commit:hubspot:task", marks=pytest.mark.slow),
    ],
)
def test_kill_9_then_restart_converges_with_no_duplicates(crms: Crms, crash_at: str) -> None:
    crashed = run_child(crms, crash_at)
    assert crashed.returncode == EXIT_CODE, crashed.stderr[-2000:]

    restarted = run_child(crms, None)
    assert restarted.returncode == 0, restarted.stderr[-2000:]

    assert_converged(crms)
    assert any(write.kind is WriteKind.TASK for _, write in outbox(crms, "status = 'sent'"))
    crms.clear_ledgers()
    again = run_child(crms, None)
    assert again.returncode == 0, again.stderr[-2000:]
    assert crms.write_calls() == []


def test_timeout_on_task_create_is_resolved_by_key_not_by_a_second_create(crms: Crms) -> None:
    """The request stalls past the client timeout and HubSpot creates the task anyway, later."""
    crms.faults("hubspot", [{"path": "/tasks/batch/create", "stall_seconds": 1.0, "limit": 1}])

    first = crms.cycle(crms.clients(timeout=0.3))

    tasks = [w for w in first.planned if w.crm is Crm.HUBSPOT and w.kind is WriteKind.TASK]
    assert 0 < len(tasks) <= 100  # one batch: the stalled one
    assert first.count_outcome("unknown", Crm.HUBSPOT) == len(tasks)
    crms.cycle()  # at once: the stalled request may still be running, so nothing is re-created
    time.sleep(1.0)  # the stalled request has certainly finished now
    crms.cycle()
    creates = [c for c in crms.write_calls() if c["path"].endswith("/tasks/batch/create")]
    assert len(creates) == 1  # only the stalled one: a later cycle found the task by its key
    assert_converged(crms)
