"""One sync cycle: pull -> mirror -> evaluate -> outbox -> push.

`run_cycle` is the only place the phases meet; each phase is a library call with its own
transactions, so a crash between any two leaves the mirror consistent and the next cycle
resumes: the pull from its committed cursors, the push from the committed outbox.

Dependencies are injected (`Clients`, `Mirror`, mapping), so tests pass sandbox connections and
the daemon passes long-lived ones. `dry_run=True` is `revops-sync plan`: evaluate and plan the
writes, store nothing, send nothing.

A cycle evaluates only the people who need it (connector/mirror/evaluations.py): something of
theirs changed since their last evaluation (whoever wrote it, logged durably in the mirror), a
timer or time condition of theirs is due (the engine says when), they were never evaluated under
this mapping, or their periodic re-check is due (`sweep_every`, 6 hours by default, a safety
net). The rest are counted as unchanged. A dry run selects the same people and stores nothing.

    python -m connector.sync [--no-push] [--dry-run] [--full]   # one cycle from the environment's Settings
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from connector.config import DEFAULT_AMBIGUOUS_GRACE, Settings
from connector.crm.clients import HubSpotConnection, SalesforceConnection
from connector.mirror.audit import save_decisions
from connector.mirror.db import Mirror, open_mirror
from connector.mirror.evaluations import (
    DEFAULT_SWEEP,
    PersonEvaluation,
    Selection,
    change_mark,
    record_evaluations,
    select_people,
)
from connector.mirror.linkqueue import link_pending
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
from connector.rules.engine import evaluate_with_next_check, task_key, transition_key
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
    people: int = 0  # people evaluated
    people_unchanged: int = 0  # people skipped: nothing of theirs changed, no timer or re-check due
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
            (
                f"pulled: {sum(self.records_pulled.values())} records; people evaluated: {self.people}"
                f" (unchanged, skipped: {self.people_unchanged})"
            ),
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
    sweep_every: timedelta | None = DEFAULT_SWEEP,
    ambiguous_grace: timedelta = DEFAULT_AMBIGUOUS_GRACE,
) -> CycleReport:
    """Run one cycle. `pull` defaults to `not dry_run`; `stop` ends it between phases.

    `sweep_every`: everyone is evaluated at least this often even if nothing of theirs changed
    (None: never; timedelta(0): every cycle, the behaviour before selective evaluation).
    `ambiguous_grace`: `Settings.ambiguous_grace`, passed on to the relay."""
    clients = source if isinstance(source, Clients) else Clients.from_settings(source)
    now = now or datetime.now(UTC)
    do_pull = (not dry_run) if pull is None else pull
    with mirror.transaction() as s:
        run_id = start_run(s, "plan" if dry_run else "sync")
    report = CycleReport(run_id, now, mapping.version, dry_run=dry_run)
    try:
        if do_pull:
            report.records_pulled = dict((pull_fn or _default_pull)(clients, mirror, now, stop))
            crash_point("after_pull")
        if stop is not None and stop.is_set():
            return _finish(mirror, report, clients, "stopped")
        link_pending(mirror)  # people as the mirror knows them: no record left waiting for its identity
        planner = Planner(
            stage_values=lambda crm, obj, stage: stage_writes(mapping, crm, obj, stage),
            task_key=task_key,
            decision_key=transition_key,
        )
        evaluated = _evaluate(mirror, mapping, planner, now, sweep_every)
        decisions, pairs = evaluated.decisions, evaluated.pairs
        report.people = len(evaluated.outcomes)
        report.people_unchanged = max(evaluated.selection.people - report.people, 0)
        report.decisions = Counter((d.kind, d.why.rule_id) for d in decisions)
        report.planned = [w for _, w in pairs]
        if dry_run:
            return _finish(mirror, report, clients, "ok")
        with mirror.transaction() as s:
            mark = change_mark(s)
            saved = save_decisions(s, run_id, decisions, [outbox_row(w, d) for d, w in pairs])
            record_evaluations(
                s,
                evaluated.selection,
                run_id,
                mapping.version,
                now,
                outcomes=evaluated.outcomes,
                saved_after=mark,
            )
        report.outbox_new, report.outbox_dup = saved.outbox_new, saved.outbox_dup
        report.payload_mismatch = saved.payload_mismatch
        crash_point("after_outbox_commit")
        if push and not (stop is not None and stop.is_set()):
            store = MirrorStore(mirror)
            relay = Relay(store, clients.writers(), quota_share=quota_share, ambiguous_grace=ambiguous_grace)
            report.relay = relay.drain()
        return _finish(mirror, report, clients, "partial" if report.stopped else "ok")
    except Exception as exc:
        try:  # record why the run failed; never let the bookkeeping hide the cause
            _finish(mirror, report, clients, "failed", error=f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("could not record the failed run %s", run_id)
        raise


@dataclass
class _Evaluated:
    selection: Selection
    decisions: list[Decision] = field(default_factory=list)  # skipped ones kept for the audit
    pairs: list[tuple[StageTransition | TaskDecision, PlannedWrite]] = field(default_factory=list)
    outcomes: dict[str, PersonEvaluation] = field(default_factory=dict)  # per evaluated person


def _evaluate(
    mirror: Mirror, mapping: RulesMapping, planner: Planner, now: datetime, sweep_every: timedelta | None
) -> _Evaluated:
    """Run the pure engine over the people who need it and plan each one's writes at once.

    Selection, echoes and people are read in one snapshot. Planning per person keeps no `Person`
    past its own turn, so memory follows the decisions, not the size of the mirror (write keys
    carry the person: no cross-person dedupe)."""
    with mirror.reader() as s:
        out = _Evaluated(select_people(s, mapping.version, now, sweep_every))
        echoes = echo_times(s, out.selection.person_ids) if out.selection.count else {}
        for loaded in load_people(s, out.selection.person_ids):
            person = without_echoes(loaded, echoes)
            settled = settle_until(person, mapping, now)
            out.outcomes[person.person_id] = _outcome(person, settled)
            if settled.decisions:
                out.decisions.extend(settled.decisions)
                out.pairs.extend(planner.plan_pairs(settled.decisions, {person.person_id: person}))
    log.info(
        "evaluated %d of %d people (%s)",
        len(out.outcomes),
        out.selection.people,
        ", ".join(f"{why} {n}" for why, n in sorted(out.selection.reasons.items())) or "none due",
    )
    skipped = sum(isinstance(d, Skipped) for d in out.decisions)
    if skipped:
        log.info("%d record(s) skipped by the engine (see revops-sync why)", skipped)
    return out


def settle(person: Person, mapping: RulesMapping, now: datetime) -> list[Decision]:
    """Evaluate until the person's stage stops moving (the engine makes one move per call).

    Without this, a person who is both promoted and recycled by the same facts would move one
    step per cycle and a re-run of an unchanged cycle would still write. Each step is audited;
    the planner writes only the last one. A stage seen twice ends the loop (no oscillation).
    """
    return settle_until(person, mapping, now).decisions


class Settled(NamedTuple):
    decisions: list[Decision]
    next_check: datetime | None  # the earliest instant a time comparison of any step flips
    last: Person  # the person as the last step saw them (stage and history moved by the steps)
    settled: bool  # the last step moved nothing (False: a stage seen twice, or steps ran out)


def settle_until(person: Person, mapping: RulesMapping, now: datetime) -> Settled:
    """`settle`, plus when to look again and where the steps ended."""
    out: list[Decision] = []
    seen = {person.stage}
    next_check: datetime | None = None
    for _ in range(len(Stage)):
        step, flips = evaluate_with_next_check(person, person.history, mapping, now)
        if flips is not None and (next_check is None or flips < next_check):
            next_check = flips
        out.extend(d for d in step if not (out and isinstance(d, Skipped)))  # skips: first step only
        move = next((d for d in step if isinstance(d, StageTransition)), None)
        if move is None:
            return Settled(out, next_check, person, settled=True)
        if move.to_stage in seen:
            break
        seen.add(move.to_stage)
        change = StageChange(move.to_stage, move.entered_at, move.why.rule_id)
        person = replace(person, stage=move.to_stage, history=(*person.history, change))
    return Settled(out, next_check, person, settled=False)


def _outcome(person: Person, settled: Settled) -> PersonEvaluation:
    """What the mirror must hold after the save for this person to be settled (evaluations.py)."""
    if not settled.decisions:
        return PersonEvaluation(settled.next_check)
    last = settled.last
    moved = last.stage != person.stage or len(last.history) != len(person.history)
    return PersonEvaluation(
        settled.next_check,
        settled.settled,
        (last.stage, last.history) if moved else None,
        tuple(task_key(d) for d in settled.decisions if isinstance(d, TaskDecision)),
    )


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
    parser.add_argument("--full", action="store_true", help="evaluate everyone, changed or not")
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
        sweep_every=timedelta(0) if args.full else DEFAULT_SWEEP,
        ambiguous_grace=settings.ambiguous_grace,
    )
    print(report.summary())  # noqa: T201 - the module's CLI output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
