"""One sync cycle: pull -> mirror -> evaluate -> outbox -> push.

`run_cycle` is the only place the phases meet; each phase is a library call with its own
transactions, so a crash between any two leaves the mirror consistent and the next cycle
resumes: the pull from its committed cursors, the push from the committed outbox.

Dependencies are injected (`Clients`, `Mirror`, mapping), so tests pass sandbox connections and
the daemon passes long-lived ones. `dry_run=True` is `revops-sync plan`: evaluate and plan the
writes, store nothing, send nothing.

    python -m connector.sync [--no-push] [--dry-run]   # one cycle from the environment's Settings
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from connector.config import Settings
from connector.crm.clients import HubSpotConnection, SalesforceConnection
from connector.mirror.audit import save_decisions
from connector.mirror.db import Mirror, open_mirror
from connector.mirror.people import load_people
from connector.mirror.runs import finish_run, start_run
from connector.model import (
    Crm,
    Decision,
    Person,
    Skipped,
    Stage,
    StageChange,
    StageTransition,
    TaskDecision,
)
from connector.push.crash import crash_point
from connector.push.echo import echo_times, without_echoes
from connector.push.hubspot_writer import HubSpotWriter
from connector.push.planner import Planner
from connector.push.relay import Relay, RelayReport, Writer
from connector.push.salesforce_writer import SalesforceWriter
from connector.push.store import MirrorStore, outbox_row
from connector.push.writes import Outcome, PlannedWrite
from connector.rules.compiled import Mapping as RulesMapping
from connector.rules.engine import evaluate, task_key, transition_key
from connector.rules.loader import load_mapping
from connector.rules.values import stage_writes

log = logging.getLogger(__name__)

PullFn = Callable[["Clients", Mirror, datetime, threading.Event | None], Mapping[str, int]]


@dataclass
class Clients:
    """The CRM connections a cycle uses; a CRM left out is neither pulled nor pushed."""

    hubspot: HubSpotConnection | None = None
    salesforce: SalesforceConnection | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Clients:
        hs = settings.hubspot
        sf = settings.salesforce
        configured_hs = bool(hs.access_token or hs.refresh_token)
        configured_sf = bool(sf.client_id or sf.username)
        return cls(
            hubspot=HubSpotConnection(hs) if configured_hs else None,
            salesforce=SalesforceConnection(sf) if configured_sf else None,
        )

    def writers(self) -> dict[Crm, Writer]:
        writers: dict[Crm, Writer] = {}
        if self.hubspot is not None:
            writers[Crm.HUBSPOT] = HubSpotWriter(self.hubspot)
        if self.salesforce is not None:
            writers[Crm.SALESFORCE] = SalesforceWriter(self.salesforce)
        return writers

    def api_calls(self) -> dict[str, int]:
        calls = {}
        if self.hubspot is not None:
            calls[Crm.HUBSPOT.value] = self.hubspot.calls
        if self.salesforce is not None:
            calls[Crm.SALESFORCE.value] = self.salesforce.calls
        return calls


@dataclass
class CycleReport:
    """What one cycle did; the daemon turns it into metrics, the CLI into a summary."""

    run_id: int | None
    started_at: datetime
    mapping_version: str
    dry_run: bool = False
    records_pulled: dict[str, int] = field(default_factory=dict)
    people: int = 0
    decisions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, rule) -> n
    planned: list[PlannedWrite] = field(default_factory=list)
    outbox_new: int = 0
    outbox_dup: int = 0
    payload_mismatch: tuple[str, ...] = ()
    relay: RelayReport | None = None
    api_calls: dict[str, int] = field(default_factory=dict)

    @property
    def writes(self) -> dict[tuple[str, str], int]:
        """(crm, outcome) -> writes settled this cycle."""
        if self.relay is None:
            return {}
        return {
            (crm.value, outcome): n
            for crm, r in self.relay.by_crm.items()
            for outcome, n in r.outcomes.items()
            if n
        }

    @property
    def stopped(self) -> list[str]:
        """Why pushing stopped early, per CRM (quota); empty when it did not."""
        if self.relay is None:
            return []
        return [r.stopped for r in self.relay.by_crm.values() if r.stopped]

    def count_outcome(self, outcome: str, crm: Crm | None = None) -> int:
        """Writes settled with `outcome` (sent, failed, dead, conflict) this cycle, for one CRM or all."""
        return sum(n for (c, o), n in self.writes.items() if o == outcome and (crm is None or c == crm.value))

    @property
    def dead(self) -> int:
        return self.relay.count(Outcome.DEAD) if self.relay else 0

    def summary(self) -> str:
        lines = [
            f"run {self.run_id} ({'plan' if self.dry_run else 'sync'}) mapping {self.mapping_version}",
            f"pulled: {sum(self.records_pulled.values())} records; people evaluated: {self.people}",
            f"decisions: {sum(self.decisions.values())}; writes planned: {len(self.planned)}"
            + (
                ""
                if self.dry_run
                else f" (new in outbox: {self.outbox_new}, already known: {self.outbox_dup})"
            ),
        ]
        for (crm, outcome), n in sorted(self.writes.items()):
            lines.append(f"  {crm}: {outcome} {n}")
        lines += [f"  STOPPED {reason}" for reason in self.stopped]
        return "\n".join(lines)


def run_cycle(
    source: Settings | Clients,
    mirror: Mirror,
    mapping: RulesMapping,
    now: datetime | None = None,
    *,
    push: bool = True,
    dry_run: bool = False,
    pull: bool | None = None,
    pull_fn: PullFn | None = None,
    stop: threading.Event | None = None,
    quota_share: float = 0.8,
) -> CycleReport:
    """Run one cycle. `pull` defaults to `not dry_run`; `stop` ends it between phases."""
    clients = source if isinstance(source, Clients) else Clients.from_settings(source)
    now = now or datetime.now(UTC)
    do_pull = (not dry_run) if pull is None else pull
    with mirror.transaction() as s:
        run_id = start_run(s, "plan" if dry_run else "sync")
    report = CycleReport(run_id, now, mapping.version, dry_run=dry_run)
    try:
        if do_pull:
            report.records_pulled = dict((pull_fn or _default_pull)(clients, mirror, now, stop))
        if stop is not None and stop.is_set():
            return _finish(mirror, report, clients, "stopped")
        planner = Planner(
            stage_values=lambda crm, obj, stage: stage_writes(mapping, crm, obj, stage),
            task_key=task_key,
            decision_key=transition_key,
        )
        decisions, pairs, report.people = _evaluate(mirror, mapping, planner, now)
        report.decisions = Counter((d.kind, d.why.rule_id) for d in decisions)
        report.planned = [w for _, w in pairs]
        if dry_run:
            return _finish(mirror, report, clients, "ok")
        with mirror.transaction() as s:
            saved = save_decisions(s, run_id, decisions, [outbox_row(w, d) for d, w in pairs])
        report.outbox_new, report.outbox_dup = saved.outbox_new, saved.outbox_dup
        report.payload_mismatch = saved.payload_mismatch
        crash_point("after_outbox_commit")
        if push and not (stop is not None and stop.is_set()):
            relay = Relay(MirrorStore(mirror), clients.writers(), quota_share=quota_share)
            report.relay = relay.drain()
        return _finish(mirror, report, clients, "partial" if report.stopped else "ok")
    except Exception as exc:
        try:  # record why the run failed; never let the bookkeeping hide the cause
            _finish(mirror, report, clients, "failed", error=f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("could not record the failed run %s", run_id)
        raise


def _evaluate(
    mirror: Mirror, mapping: RulesMapping, planner: Planner, now: datetime
) -> tuple[list[Decision], list[tuple[StageTransition | TaskDecision, PlannedWrite]], int]:
    """Run the pure engine over every mirrored person and plan each one's writes at once:
    (decisions, (decision, write) pairs, people evaluated). Skipped decisions are kept for the
    audit. Planning per person keeps no `Person` past its own turn, so memory follows the
    decisions, not the size of the mirror (write keys carry the person: no cross-person dedupe)."""
    decisions: list[Decision] = []
    pairs: list[tuple[StageTransition | TaskDecision, PlannedWrite]] = []
    evaluated = 0
    with mirror.reader() as s:
        echoes = echo_times(s)
        for loaded in load_people(s):
            person = without_echoes(loaded, echoes)
            evaluated += 1
            settled = settle(person, mapping, now)
            if settled:
                decisions.extend(settled)
                pairs.extend(planner.plan_pairs(settled, {person.person_id: person}))
    skipped = sum(isinstance(d, Skipped) for d in decisions)
    if skipped:
        log.info("%d record(s) skipped by the engine (see revops-sync why)", skipped)
    return decisions, pairs, evaluated


def settle(person: Person, mapping: RulesMapping, now: datetime) -> list[Decision]:
    """Evaluate until the person's stage stops moving (the engine makes one move per call).

    Without this, a person who is both promoted and recycled by the same facts would move one
    step per cycle and a re-run of an unchanged cycle would still write. Each step is audited;
    the planner writes only the last one. A stage seen twice ends the loop (no oscillation).
    """
    out: list[Decision] = []
    seen = {person.stage}
    for _ in range(len(Stage)):
        step = evaluate(person, person.history, mapping, now)
        out.extend(d for d in step if not (out and isinstance(d, Skipped)))  # skips: first step only
        move = next((d for d in step if isinstance(d, StageTransition)), None)
        if move is None or move.to_stage in seen:
            break
        seen.add(move.to_stage)
        change = StageChange(move.to_stage, move.why.decided_at, move.why.rule_id)
        person = replace(person, stage=move.to_stage, history=(*person.history, change))
    return out


def _default_pull(
    clients: Clients, mirror: Mirror, now: datetime, stop: threading.Event | None
) -> Mapping[str, int]:
    from connector import pull  # noqa: PLC0415 - the pull layer is optional for push-only tests

    return pull.pull_all(clients, mirror, now=now, stop=stop)


def _finish(
    mirror: Mirror, report: CycleReport, clients: Clients, status: str, error: str | None = None
) -> CycleReport:
    report.api_calls = clients.api_calls()
    stats = {
        "pulled": sum(report.records_pulled.values()),
        "decisions": sum(report.decisions.values()),
        "planned": len(report.planned),
        "writes": {f"{crm}:{outcome}": n for (crm, outcome), n in report.writes.items()},
        "api_calls": report.api_calls,
        "stopped": report.stopped,
    }
    with mirror.transaction() as s:
        finish_run(s, report.run_id or 0, status, stats=stats, error=error)
    return report


def main(argv: list[str] | None = None) -> int:
    """One cycle from the environment (the kill -9 tests drive this in a child process)."""
    parser = argparse.ArgumentParser(prog="python -m connector.sync", description=__doc__)
    parser.add_argument("--no-push", action="store_true", help="pull and plan, queue writes, send nothing")
    parser.add_argument("--dry-run", action="store_true", help="evaluate and print the plan; store nothing")
    parser.add_argument("--no-pull", action="store_true", help="skip the pull (use the mirror as it is)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    mirror = open_mirror(settings.database_url)
    mapping = load_mapping(*(Path(p) for p in settings.mappings))
    report = run_cycle(
        settings,
        mirror,
        mapping,
        push=not args.no_push,
        dry_run=args.dry_run,
        pull=False if args.no_pull else None,
    )
    print(report.summary())  # noqa: T201 - the module's CLI output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
