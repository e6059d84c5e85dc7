"""Fixtures: both sandboxes in the test process, and `revops-sync serve` child processes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox.runner import Sandboxes, start_sandboxes
from tests.e2e.harness import CLI, MAPPING, Daemon, StartDaemon, free_port, write_jobs


@pytest.fixture
def boxes(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Sandboxes]:
    """A module sets PEOPLE to seed less when the data volume is not what it tests."""
    running = start_sandboxes(tmp_path, people=getattr(request.module, "PEOPLE", 600), seed=11)
    yield running
    running.stop()


@pytest.fixture
def start_daemon(boxes: Sandboxes, tmp_path: Path) -> Iterator[StartDaemon]:
    """Start daemons against the sandboxes; each is SIGTERMed (then killed) at teardown."""
    started: list[Daemon] = []

    def start(
        *extra: str,
        db: Path | None = None,
        jobs: Path | None = None,
        name: str = "daemon",
        level: str = "INFO",
    ) -> Daemon:
        env = {
            **os.environ,
            **boxes.env(),
            "REVOPS_DATABASE_URL": f"sqlite:///{db or tmp_path / 'mirror.db'}",
            "REVOPS_JOBS": str(jobs or write_jobs(tmp_path / "jobs.yaml", MAPPING)),
            "REVOPS_MAPPINGS": str(MAPPING),
        }
        port = free_port()
        log = tmp_path / f"{name}.log"
        argv = [str(CLI), "serve", "--health-port", str(port), "--log-json"]
        argv += ["--log-level", level, "--env-file", str(tmp_path / "none.env"), *extra]
        with log.open("wb") as sink:
            proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT)
        daemon = Daemon(proc, log, port)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        try:
            daemon.stop(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.proc.kill()
            daemon.proc.wait()
