"""A broken mapping edit is refused with its place and the daemon keeps cycling on the last good one."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

from tests.e2e.harness import MAPPING, StartDaemon, write_jobs

PEOPLE = 150  # reload is under test, not the data volume


def test_broken_edit_keeps_the_last_good_mapping(start_daemon: StartDaemon, tmp_path: Path) -> None:
    mapping = tmp_path / "the-model.yaml"
    shutil.copy(MAPPING, mapping)
    daemon = start_daemon(jobs=write_jobs(tmp_path / "jobs.yaml", mapping))
    daemon.wait_cycles(1)
    good = mapping.read_text()
    version = _health(daemon.port)

    bad = good.replace("{field: lead_score, gte: 60}", "{field: lead_score, gte: sixty}", 1)
    assert bad != good
    mapping.write_text(bad)
    line = next(i for i, text in enumerate(bad.splitlines(), start=1) if "gte: sixty" in text)
    done = daemon.cycles()
    daemon.wait_cycles(done + 2)  # two more cycles, both on the last good mapping

    assert daemon.proc.poll() is None
    refused = [r for r in daemon.records() if "mapping edit refused" in str(r["msg"])]
    assert len(refused) == 1  # logged once per distinct bad content, not every cycle
    assert f"{mapping}:{line}:" in str(refused[0]["msg"])
    metrics = daemon.metrics()
    assert metrics['revops_sync_mapping_reloads_total{outcome="refused"}'] == 1
    assert 'revops_sync_cycles_total{job="funnel",outcome="failed"}' not in metrics
    assert _health(daemon.port) == version

    mapping.write_text(good + "\n# reviewed and fixed\n")
    done = daemon.cycles()
    daemon.wait_cycles(done + 1)
    assert daemon.metrics()['revops_sync_mapping_reloads_total{outcome="ok"}'] == 2
    assert daemon.stop() == 0


def _health(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
        assert resp.status == 200
        return str(json.loads(resp.read())["mapping_version"])
