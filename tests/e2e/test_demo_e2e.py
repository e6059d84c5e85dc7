"""`revops-sync demo` (what `make demo` runs) completes and shows every promised part."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.e2e.harness import CLI


def test_demo_shows_both_cycles_the_changes_the_mirror_and_the_report(tmp_path: Path) -> None:
    started = time.monotonic()
    run = subprocess.run(
        [str(CLI), "demo", "--people", "400", "--workdir", str(tmp_path / "var")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=tmp_path,
        env={"COLUMNS": "200", "PATH": str(CLI.parent)},
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert time.monotonic() - started < 120
    out = run.stdout
    for part in ("HubSpot sandbox", "Salesforce sandbox", "seeded 400 people", "cycle 1", "cycle 2"):
        assert part in out
    for part in ("simulated people's work", "what changed in both CRMs", "revops-sync why", "demo.db"):
        assert part in out
    assert "→ customer" in out  # a won deal moved someone to customer, read back from the CRM
    assert (tmp_path / "var" / "demo.db").stat().st_size > 100_000
    report = tmp_path / "var" / "report.html"
    assert str(report) in out
    assert "<svg" in report.read_text()
