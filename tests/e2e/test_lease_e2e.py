"""Two daemons on one database never run a cycle at the same time (reliability scenario #6)."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import time
from datetime import datetime
from pathlib import Path

from connector.sandbox.runner import Sandboxes
from tests.e2e.harness import CLI, StartDaemon

PEOPLE = 150  # the lease is under test, not the data volume


def _runs(db: Path) -> list[tuple[datetime, datetime]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT started_at, finished_at FROM runs ORDER BY started_at").fetchall()
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in rows if b is not None]


def test_second_daemon_is_refused_then_queues_and_never_overlaps(
    start_daemon: StartDaemon, boxes: Sandboxes, tmp_path: Path
) -> None:
    first = start_daemon(name="first")
    first.wait_cycles(1)

    refused = start_daemon(name="refused")
    assert refused.proc.wait(timeout=30) == 2
    assert "another revops-sync process holds" in refused.log.read_text()
    assert f"pid {first.proc.pid}" in refused.log.read_text()

    one_off = subprocess.run(
        [str(CLI), "sync", "--env-file", str(tmp_path / "none.env")],
        env={**boxes.env(), "REVOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'mirror.db'}"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert one_off.returncode == 2, one_off.stdout + one_off.stderr
    assert "--wait" in one_off.stdout + one_off.stderr

    queued = start_daemon("--wait", name="queued")
    time.sleep(2)
    assert queued.proc.poll() is None  # waiting, not exited
    assert queued.cycles() == 0  # and not cycling while the first one holds the lease
    first_cycles = first.wait_cycles(2)
    assert first.stop() == 0
    queued.wait_cycles(2)
    assert queued.stop() == 0

    runs = _runs(tmp_path / "mirror.db")
    assert len(runs) >= first_cycles + 2
    for (_, end), (start, _) in itertools.pairwise(runs):
        assert end <= start, f"cycles overlapped: one ended {end}, the next started {start}"
