"""Drive the daemon as a real process (`revops-sync serve`) against sandboxes in the test process.

Nothing in the connector is patched: the daemon reads its settings from the environment the
sandbox runner produces, logs JSON lines to a file, and is observed through /metrics, its logs,
the sandboxes' admin APIs and the mirror file.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAPPING = REPO / "mappings" / "the-model.yaml"
CLI = Path(sys.executable).parent / "revops-sync"  # the installed console script
STREAMS = (
    "hubspot.contacts",
    "hubspot.deals",
    "salesforce.leads",
    "salesforce.contacts",
    "salesforce.accounts",
    "salesforce.opportunities",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_jobs(path: Path, mapping: Path, every: str = "2s") -> Path:
    streams = "\n".join(f"      - {s}" for s in STREAMS)
    path.write_text(
        f"version: 1\njobs:\n  - id: funnel\n    every: {every}\n    misfire_grace_time: 30s\n"
        f"    streams:\n{streams}\n    mappings: [{mapping}]\n",
        encoding="utf-8",
    )
    return path


@dataclass
class Daemon:
    """One `revops-sync serve` child process and the places to observe it."""

    proc: subprocess.Popen[bytes]
    log: Path
    port: int

    def metrics(self) -> dict[str, float]:
        """Prometheus text -> {'name{labels}': value}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def cycles(self, outcome: str = "ok") -> int:
        try:
            return int(self.metrics().get(f'revops_sync_cycles_total{{job="funnel",outcome="{outcome}"}}', 0))
        except OSError:
            return 0

    def wait_cycles(self, n: int, timeout: float = 40, outcome: str = "ok") -> int:
        """Block until at least `n` cycles ended with `outcome`; fail with the log tail if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.cycles(outcome)
            if done >= n:
                return done
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.2)
        pytest.fail(f"fewer than {n} {outcome} cycles in {timeout}s:\n{self.tail()}")

    def records(self) -> list[dict[str, object]]:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else ""

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


StartDaemon = Callable[..., Daemon]
