"""The APScheduler wiring: cycles never overlap, failures do not stop the schedule, stop is graceful."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from connector.daemon.scheduler import CycleFigures, Daemon
from connector.errors import QuotaExhausted
from connector.jobs import Job, JobsFile


def _jobs(*ids: str, every: str = "1s") -> JobsFile:
    return JobsFile(
        jobs=tuple(Job(id=i, streams=("hubspot.contacts",), every=every, mappings=("m.yaml",)) for i in ids)
    )


class Recorder:
    """A stand-in cycle that records overlap: the daemon's wiring is what is under test here."""

    def __init__(self, seconds: float, fail_first: Exception | None = None) -> None:
        self.seconds, self.fail_first = seconds, fail_first
        self.active = 0
        self.max_active = 0
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, job: Job, stop: threading.Event) -> CycleFigures:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append(job.id)
        try:
            if self.fail_first is not None and len(self.calls) == 1:
                raise self.fail_first
            deadline = time.monotonic() + self.seconds
            while time.monotonic() < deadline:  # a cycle checks `stop` between pages
                if stop.is_set():
                    return CycleFigures(stopped_early=True)
                time.sleep(0.01)
            return CycleFigures(records_pulled={"hubspot.contacts": 1})
        finally:
            with self.lock:
                self.active -= 1


def test_two_jobs_with_slow_cycles_never_overlap() -> None:
    cycle = Recorder(seconds=1.3)
    daemon = Daemon(_jobs("a", "b"), cycle)
    daemon.run_forever(install_signals=False, max_cycles=3)
    assert cycle.max_active == 1
    assert {"a", "b"} <= set(cycle.calls)


def test_a_failed_cycle_is_counted_and_the_schedule_goes_on() -> None:
    cycle = Recorder(seconds=0.0, fail_first=QuotaExhausted("daily limit"))
    daemon = Daemon(_jobs("a"), cycle)
    daemon.run_forever(install_signals=False, max_cycles=2)
    assert daemon.metrics.get("revops_sync_errors_total", kind="quota") == 1
    assert daemon.metrics.get("revops_sync_cycles_total", job="a", outcome="ok") >= 1
    assert daemon.health.last_success is not None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_lets_the_running_cycle_finish_and_stops(sig: signal.Signals) -> None:
    cycle = Recorder(seconds=30)
    daemon = Daemon(_jobs("a", every="1h"), cycle)
    threading.Timer(0.5, os.kill, (os.getpid(), sig)).start()
    started = time.monotonic()
    daemon.run_forever()
    assert time.monotonic() - started < 10
    assert cycle.calls == ["a"]
    assert cycle.active == 0
    assert daemon.metrics.get("revops_sync_cycles_total", job="a", outcome="stopped") == 1
    assert signal.getsignal(sig) is not daemon.request_stop  # handlers restored
