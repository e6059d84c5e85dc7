"""Thin wiring from validated jobs to APScheduler 3, plus the daemon's life cycle.

Choices, each against a failure seen in the field (sync-reliability-notes §5):
- `max_instances=1` and a one-thread executor: a slow cycle is never overlapped by the next tick,
  nor by another job on the same database; a skipped tick is logged, not silent (apscheduler#423).
- `coalesce=True`: ticks missed while a cycle ran collapse into one run, not a burst.
- an explicit `misfire_grace_time` per job: APScheduler's 1 s default drops a run that starts a
  little late (apscheduler#296).
- SIGTERM/SIGINT set a stop event that the cycle checks between pages; shutdown then waits for
  the running cycle to commit its page, so a deploy never leaves a half-written page behind.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connector.daemon.health import Health, Metrics
from connector.errors import ConfigError, ConnectorError, FatalError, QuotaExhausted, RetryableError
from connector.jobs import Job, JobsFile

log = logging.getLogger(__name__)


@dataclass
class CycleFigures:
    """What one cycle did, in the shape the metrics need (the sync layer fills it)."""

    records_pulled: Mapping[str, int] = field(default_factory=dict)  # stream -> records
    decisions: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (kind, rule) -> n
    writes: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (crm, result) -> n
    errors: Mapping[str, int] = field(default_factory=dict)  # kind -> n (per-record, dead-lettered)
    api_calls: Mapping[str, int] = field(default_factory=dict)  # crm -> calls
    quota_remaining: Mapping[str, float] = field(default_factory=dict)  # crm -> calls left
    mapping_version: str | None = None
    stopped_early: bool = False  # the stop event cut the cycle short (after a committed page)


CycleFn = Callable[[Job, threading.Event], CycleFigures]

_ERROR_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (QuotaExhausted, "quota"),
    (RetryableError, "retryable"),
    (FatalError, "fatal"),
    (ConfigError, "config"),
    (ConnectorError, "connector"),
)


def record_figures(metrics: Metrics, figures: CycleFigures) -> None:
    """Add one cycle's figures to the registry (a table of series, not one call per field)."""
    for stream, n in figures.records_pulled.items():
        metrics.inc("revops_sync_records_pulled_total", n, stream=stream)
    for (kind, rule), n in figures.decisions.items():
        metrics.inc("revops_sync_decisions_total", n, kind=kind, rule=rule)
    for (crm, result), n in figures.writes.items():
        metrics.inc("revops_sync_writes_total", n, crm=crm, result=result)
    for kind, n in figures.errors.items():
        metrics.inc("revops_sync_errors_total", n, kind=kind)
    for crm, n in figures.api_calls.items():
        metrics.inc("revops_sync_api_calls_total", n, crm=crm)
    for crm, left in figures.quota_remaining.items():
        metrics.set("revops_sync_api_quota_remaining", left, crm=crm)


class Daemon:
    """Runs each job's cycles on its schedule until `stop` is set (or SIGTERM/SIGINT arrives)."""

    def __init__(
        self,
        jobs: JobsFile,
        run_cycle: CycleFn,
        *,
        metrics: Metrics | None = None,
        health: Health | None = None,
        run_immediately: bool = True,
    ) -> None:
        self.jobs = jobs
        self.run_cycle = run_cycle
        self.metrics = metrics or Metrics()
        self.health = health or Health()
        self.stop_event = threading.Event()
        self.cycles_done = 0
        self._run_immediately = run_immediately
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"max_instances": 1, "coalesce": True},
            timezone=UTC,
        )
        self.scheduler.add_listener(self._on_skipped, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def _trigger(self, job: Job) -> IntervalTrigger | CronTrigger:
        if job.cron is not None:
            return CronTrigger.from_crontab(job.cron, timezone=UTC)
        assert job.interval is not None  # the schema guarantees one of the two
        return IntervalTrigger(seconds=job.interval.total_seconds(), timezone=UTC)

    def start(self) -> None:
        for job in self.jobs.jobs:
            self.scheduler.add_job(
                self.tick,
                trigger=self._trigger(job),
                args=(job,),
                id=job.id,
                name=job.description or job.id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=job.grace_seconds,
                next_run_time=datetime.now(UTC) if self._run_immediately else None,
            )
            log.info("scheduled job %s (%s)", job.id, job.every or f"cron {job.cron}")
        self.scheduler.start()
        self.metrics.set("revops_sync_up", 1)

    def tick(self, job: Job) -> None:
        """One cycle with its bookkeeping; any failure is counted and logged, never fatal to the daemon."""
        if self.stop_event.is_set():
            return
        started = time.monotonic()
        outcome = "ok"
        log.info("cycle of job %s started", job.id)
        try:
            figures = self.run_cycle(job, self.stop_event)
        except Exception as exc:  # one failed cycle must not stop the schedule
            kind = next((name for cls, name in _ERROR_KINDS if isinstance(exc, cls)), "unexpected")
            outcome = "failed"
            self.metrics.inc("revops_sync_errors_total", kind=kind)
            self.health.last_error = f"{kind}: {exc}"
            if kind == "unexpected":
                log.exception("cycle of job %s failed", job.id)
            else:
                log.error("cycle of job %s stopped (%s): %s", job.id, kind, exc)  # noqa: TRY400 - expected kind
        else:
            record_figures(self.metrics, figures)
            outcome = "stopped" if figures.stopped_early else "ok"
            if not figures.stopped_early:
                self.health.last_success = time.time()
                self.health.last_error = None
                self.metrics.set("revops_sync_last_success_timestamp_seconds", self.health.last_success)
            self.health.mapping_version = figures.mapping_version or self.health.mapping_version
        finally:
            elapsed = time.monotonic() - started
            self.metrics.set("revops_sync_cycle_duration_seconds", elapsed, job=job.id)
            self.metrics.inc("revops_sync_cycle_duration_seconds_sum", elapsed, job=job.id)
            self.metrics.inc("revops_sync_cycles_total", job=job.id, outcome=outcome)
            self.cycles_done += 1
        extra = {"job": job.id, "outcome": outcome, "seconds": round(elapsed, 3)}
        log.info("cycle of job %s %s in %.2fs", job.id, outcome, elapsed, extra=extra)

    def _on_skipped(self, event: JobExecutionEvent) -> None:
        reason = "still running" if event.code == EVENT_JOB_MAX_INSTANCES else "missed its grace time"
        log.warning("skipped a run of job %s: previous cycle %s", event.job_id, reason)

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Signal handler: let the running cycle finish its page and commit, then stop."""
        if not self.stop_event.is_set():
            name = signal.Signals(signum).name if signum else "request"
            log.info("stopping on %s: finishing the current page, then exiting", name)
        self.stop_event.set()

    def run_forever(self, *, install_signals: bool = True, max_cycles: int | None = None) -> None:
        """Block until stopped; `max_cycles` ends the run after that many cycles (tests, `--cycles`)."""
        previous: dict[signal.Signals, Any] = {}
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self.request_stop)
        try:
            self.start()
            while not self.stop_event.wait(0.2):
                if max_cycles is not None and self.cycles_done >= max_cycles:
                    self.stop_event.set()
        finally:
            self.health.running = False
            self.metrics.set("revops_sync_up", 0)
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)  # the running cycle commits before we return
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("stopped after %d cycle(s)", self.cycles_done)
