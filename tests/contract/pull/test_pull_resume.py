"""kill -9 between pages: the next run resumes the window in flight, losing nothing and adding no
duplicate versions. The pull runs as the real CLI in a subprocess, held after its first committed
page by the documented REVOPS_PULL_PAUSE_AFTER_PAGE knob, then killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from connector.crm.protocol import CrmReader
from connector.mirror.db import open_mirror
from connector.mirror.integrity import integrity_check
from connector.mirror.linkqueue import queued_keys
from connector.pull import PAUSE_ENV, pull_cycle
from tests.contract.pull.conftest import (
    SfFactory,
    hubspot_reader,
    mirrored,
    salesforce_reader,
    salesforce_settings,
    version_counts,
)
from tests.fixtures_hubspot import SandboxFactory
from tests.fixtures_salesforce import bulk_world

CLI = str(Path(sys.executable).parent / "revops-sync")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SALESFORCE_", "REVOPS_"))}


def _window_in_flight(db: Path, stream: str) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM cursors WHERE stream = ?", (stream,)).fetchone()
    except sqlite3.OperationalError:  # schema not created yet
        return False
    return row is not None and '"window"' in row[0]


def _setup(
    crm: str, hubspot_sandbox_factory: SandboxFactory, salesforce_factory: SfFactory
) -> tuple[dict[str, str], str, str, CrmReader, set[str]]:
    """(env for the CLI, stream, object type, an in-process reader, the ids the sandbox holds)."""
    if crm == "hubspot":
        hs = hubspot_sandbox_factory(people=700)
        env = {"HUBSPOT_BASE_URL": hs.url, "HUBSPOT_ACCESS_TOKEN": hs.token}
        ids = {r["id"] for r in hs.admin("GET", "state/contacts")["results"]}
        return env, "hubspot.contacts", "contacts", hubspot_reader(hs), ids
    sf = salesforce_factory(bulk_world(5_000))
    stamp = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    for rec in sf.app.store.records["Lead"].values():  # every lead on one SystemModstamp: ties across pages
        rec["SystemModstamp"] = rec["LastModifiedDate"] = stamp
    s = salesforce_settings(sf)
    env = {
        "SALESFORCE_LOGIN_URL": s.login_url,
        "SALESFORCE_INSTANCE_URL": s.instance_url or "",
        "SALESFORCE_CLIENT_ID": s.client_id or "",
        "SALESFORCE_CLIENT_SECRET": s.client_secret.reveal() if s.client_secret else "",
        "SALESFORCE_CA_BUNDLE": s.ca_bundle or "",
    }
    return env, "salesforce.leads", "Lead", salesforce_reader(sf), set(sf.app.store.records["Lead"])


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_kill_between_pages_resumes_without_loss_or_duplicate_versions(
    crm: str, hubspot_sandbox_factory: SandboxFactory, salesforce_factory: SfFactory, tmp_path: Path
) -> None:
    env, stream, object_type, reader, truth = _setup(crm, hubspot_sandbox_factory, salesforce_factory)
    db = tmp_path / "mirror.db"
    env |= {"REVOPS_DATABASE_URL": f"sqlite:///{db}", PAUSE_ENV: "1:600"}
    proc = subprocess.Popen(
        [CLI, "pull", "--stream", stream],
        env=_clean_env() | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not _window_in_flight(db, stream):
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "first page never committed"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    mirror = open_mirror(f"sqlite:///{db}")
    before = len(mirrored(mirror, crm, object_type))
    assert 0 < before < len(truth)  # killed mid-window
    with mirror.reader() as s:  # the committed page's people wait for their batch (linkqueue)
        assert len(queued_keys(s)) == before
        assert integrity_check(s) == []

    stats = pull_cycle(mirror, [reader], now=datetime.now(UTC) + timedelta(seconds=1), streams=[stream])

    assert stats[0].resumed
    assert stats[0].records == len(truth) - before  # resumed after the committed page, not from the start
    assert set(mirrored(mirror, crm, object_type)) == truth
    assert version_counts(mirror, crm) == (len(truth), 1)  # no version twice after the kill
    assert not _window_in_flight(db, stream)
    with mirror.reader() as s:  # the killed run's queued page linked with the rest
        assert not queued_keys(s)
        linked = s.execute(text("SELECT count(*) FROM identities WHERE object_type = :t"), {"t": object_type})
        assert linked.scalar_one() == len(truth)
        assert integrity_check(s) == []
