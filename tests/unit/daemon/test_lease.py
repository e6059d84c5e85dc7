"""One cycle-runner per database: a second process is refused (or queued), a dead holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector.daemon.lease import Lease, LeaseHeldError, lock_path_for

HOLD = """
import sys, time
from connector.daemon.lease import Lease
lease = Lease(sys.argv[1]); lease.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _holder(url: str, seconds: float) -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", HOLD, url, str(seconds)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize(
    ("url", "expected"),
    [("sqlite:///var/x.db", Path("var/x.db.lock")), ("sqlite:////abs/y.db", Path("/abs/y.db.lock"))],
)
def test_lock_sits_beside_the_database(url: str, expected: Path) -> None:
    assert lock_path_for(url) == expected


def test_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    proc = _holder(url, 30)
    try:
        with pytest.raises(LeaseHeldError, match=f"pid {proc.pid}"):
            Lease(url).acquire()
        assert not (tmp_path / "m.db").exists()  # refusing touched nothing in the mirror
    finally:
        proc.kill()
        proc.wait()


def test_kill_9_frees_the_lease_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    proc = _holder(url, 30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Lease(url) as lease:
        assert lease.held


def test_wait_queues_until_the_holder_leaves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    proc = _holder(url, 1.0)
    started = time.monotonic()
    lease = Lease(url, wait=True, poll_seconds=0.05)
    lease.acquire(timeout=20)
    try:
        assert lease.held
        assert time.monotonic() - started > 0.3
    finally:
        lease.release()
        proc.wait()


def test_wait_gives_up_after_its_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    proc = _holder(url, 30)
    try:
        with pytest.raises(LeaseHeldError):
            Lease(url, wait=True, poll_seconds=0.05).acquire(timeout=0.3)
    finally:
        proc.kill()
        proc.wait()
