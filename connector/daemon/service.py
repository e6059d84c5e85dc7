"""`revops-sync serve` assembled: settings -> lease -> mirror -> jobs -> scheduler + health endpoint.

The daemon keeps one set of CRM connections for its whole life (tokens and connection pools are
reused across cycles) and one `MappingHolder` per job, so each job's mapping hot-reloads on its
own. A job's `crms` narrows the connections it is given: a CRM left out is neither pulled nor
pushed (that is `connector.sync.Clients`' contract).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping as MappingT
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from connector import mirror as m
from connector.config import DEFAULT_AMBIGUOUS_GRACE, Settings
from connector.crm.streams import get_stream
from connector.daemon.health import Health, HealthServer, Metrics
from connector.daemon.lease import Lease
from connector.daemon.progress import job_pull
from connector.daemon.reload import MappingHolder
from connector.daemon.scheduler import CycleFigures, Daemon
from connector.errors import ConfigError
from connector.jobs import Job, JobsFile
from connector.model import Crm
from connector.pull import readers_for
from connector.rules.compiled import Mapping
from connector.rules.loader import MappingError, load_mapping
from connector.sync import Clients, CycleReport, run_cycle

log = logging.getLogger(__name__)


def load_rules(paths: Sequence[Path]) -> Mapping:
    """The mapping loader the holders use (every problem at once, with its place)."""
    return load_mapping(*paths)


def figures_from(report: CycleReport, clients: Clients, before: MappingT[str, int]) -> CycleFigures:
    """A sync report in the daemon's metric shape; API calls as this cycle's delta."""
    quota: dict[str, float] = {}
    for reader in readers_for(clients.hubspot, clients.salesforce):  # what each CRM last told us
        q = reader.quota()
        if q.used is not None and q.limit is not None:
            quota[reader.crm.value] = q.limit - q.used
    return CycleFigures(
        records_pulled=report.records_pulled,
        decisions=dict(report.decisions),
        writes=report.writes,
        errors={"dead_letter": report.dead} if report.dead else {},
        api_calls={crm: n - before.get(crm, 0) for crm, n in report.api_calls.items()},
        quota_remaining=quota,
        mapping_version=report.mapping_version,
    )


def unpulled_fields(mapping: Mapping, streams: Sequence[str]) -> list[str]:
    """Mapping fields a job reads that none of its streams pull: such a rule can never fire.

    Checked at start-up and by `serve --check` (a warning, not a refusal: the field may be
    deliberately absent from one CRM), so a gap between the mapping and the streams table is
    visible before anyone wonders why churn never happens.
    """
    pulled = {(s.crm, s.object): {*s.properties, *s.optional} for s in map(get_stream, streams)}
    return [
        f"{name}: {crm.value} {obj}.{prop}"
        for name, spec in sorted(mapping.model.fields.items())
        for crm, objects in spec.sources.items()
        for obj, prop in objects.items()
        if (crm, obj) in pulled and prop not in pulled[(crm, obj)]
    ]


def configured_clients(settings: Settings) -> Clients:
    """Connections for every configured CRM; none at all is a setup mistake, not an idle daemon."""
    clients = Clients.from_settings(settings)
    if clients.hubspot is None and clients.salesforce is None:
        raise ConfigError(
            "no CRM configured: set HUBSPOT_ACCESS_TOKEN and/or SALESFORCE_CLIENT_ID (or pass --env-file)"
        )
    return clients


def for_job(clients: Clients, job: Job) -> Clients:
    """The connections a job may use: only the CRMs it names."""
    return Clients(
        hubspot=clients.hubspot if Crm.HUBSPOT in job.crms else None,
        salesforce=clients.salesforce if Crm.SALESFORCE in job.crms else None,
    )


@dataclass
class CycleRunner:
    """The daemon's cycle function: the job's current good mapping, its CRMs, one `run_cycle`."""

    mirror: m.Mirror
    clients: Clients
    metrics: Metrics
    base: Path
    ambiguous_grace: timedelta = DEFAULT_AMBIGUOUS_GRACE

    def __post_init__(self) -> None:
        self.holders: dict[str, MappingHolder[Mapping]] = {}

    def holder(self, job: Job) -> MappingHolder[Mapping]:
        if job.id not in self.holders:
            self.holders[job.id] = MappingHolder(
                [self.base / p for p in job.mappings],
                load_rules,
                (MappingError,),
                lambda outcome: self.metrics.inc("revops_sync_mapping_reloads_total", outcome=outcome),
            )
        return self.holders[job.id]

    def __call__(self, job: Job, stop: threading.Event) -> CycleFigures:
        mapping = self.holder(job).current()
        clients = for_job(self.clients, job)
        before = clients.api_calls()
        report = run_cycle(
            clients,
            self.mirror,
            mapping,
            push=job.push,
            stop=stop,
            pull_fn=job_pull(job.streams),
            sweep_every=job.sweep_every,
            ambiguous_grace=self.ambiguous_grace,
        )
        log.info("job %s: %s", job.id, report.summary().replace("\n", "; "))
        figures = figures_from(report, clients, before)
        figures.stopped_early = stop.is_set()
        return figures


def serve(
    settings: Settings,
    jobs: JobsFile,
    *,
    base: Path,
    wait: bool = False,
    health_host: str = "127.0.0.1",
    health_port: int = 9464,
    max_cycles: int | None = None,
) -> int:
    """Run the daemon until SIGTERM/SIGINT (or `max_cycles`); returns the process exit code."""
    clients = configured_clients(settings)  # a setup mistake exits before the lease or the mirror
    lease = Lease(settings.database_url, wait=wait)
    if wait:
        log.info("waiting for the lease on %s", lease.path)
    lease.acquire()
    log.info("holding the lease %s (one daemon per database)", lease.path)
    mirror = m.open_mirror(settings.database_url)
    metrics = Metrics()
    shortest = min((j.interval.total_seconds() for j in jobs.jobs if j.interval), default=3600.0)
    health = Health(stale_after=max(300.0, shortest * 3))
    runner = CycleRunner(mirror, clients, metrics, base, settings.ambiguous_grace)
    for job in jobs.jobs:  # refuse to start on a bad mapping: there is no last good one yet
        mapping = runner.holder(job).current()
        health.mapping_version = mapping.version
        for gap in unpulled_fields(mapping, job.streams):
            log.warning("job %s: the mapping reads %s, which no stream of the job pulls", job.id, gap)
    try:
        server = HealthServer(metrics, health, host=health_host, port=health_port).start()
    except OSError as exc:
        raise ConfigError(f"cannot serve /healthz on {health_host}:{health_port}: {exc.strerror}") from None
    log.info("health on %s/healthz, metrics on %s/metrics", server.url, server.url)
    try:
        Daemon(jobs, runner, metrics=metrics, health=health).run_forever(max_cycles=max_cycles)
    finally:
        server.stop()
        mirror.close()
        lease.release()
    return 0
