"""SIGTERM mid-pull: the daemon commits the page in hand, exits 0, and the next cycle resumes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from connector import mirror as m
from connector.model import Crm
from connector.rules.loader import load_mapping
from connector.sandbox.runner import Sandboxes
from connector.sync import Clients, run_cycle
from tests.e2e.harness import MAPPING, StartDaemon

PEOPLE = 1500  # HubSpot holds ~1,000 contacts: five search pages of 200


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_sigterm_finishes_the_page_commits_and_the_next_cycle_resumes(
    start_daemon: StartDaemon, boxes: Sandboxes, tmp_path: Path
) -> None:
    search = "/crm/v3/objects/contacts/search"
    with boxes.admin(Crm.HUBSPOT) as admin:
        slow = {"rules": [{"path": search, "latency_ms": 700}]}
        admin.post("/__sandbox/faults", json=slow).raise_for_status()
        daemon = start_daemon()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the pull is between its pages
            pages = [e for e in admin.get("/__sandbox/ledger").json() if e["path"] == search]
            if len(pages) >= 2:
                break
            time.sleep(0.05)
        stopped_at = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - stopped_at < 10  # one page, not the whole pull
        admin.delete("/__sandbox/faults").raise_for_status()

    db = tmp_path / "mirror.db"
    total = sum(p.in_hubspot for p in boxes.world.people)
    partial = _count(db, "SELECT count(*) FROM records WHERE crm = 'hubspot' AND object_type = 'contacts'")
    assert 0 < partial < total  # whole pages committed, the rest left for the next cycle
    assert _count(db, "SELECT count(*) FROM cursors WHERE stream = 'hubspot.contacts'") == 1
    assert _count(db, "SELECT count(*) FROM runs WHERE status = 'running'") == 0
    assert _count(db, "SELECT count(*) FROM outbox") == 0  # stopped before judging: nothing queued

    mirror = m.open_mirror(f"sqlite:///{db}")
    run_cycle(Clients.from_settings(boxes.settings()), mirror, load_mapping(MAPPING), push=False)
    after = _count(db, "SELECT count(*) FROM records WHERE crm = 'hubspot' AND object_type = 'contacts'")
    assert after == _count(db, "SELECT count(DISTINCT record_id) FROM records WHERE object_type = 'contacts'")
    assert after == total  # every contact exactly once
