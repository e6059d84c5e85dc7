"""`revops-sync demo`: the whole product on a fresh machine, no CRM account, in well under 3 minutes.

Both sandboxes start from one seeded world; cycle 1 brings both CRMs onto THE MODEL; scripted
human work follows (new leads, score changes, Inside Sales accepting, deals won and lost, churn);
cycle 2 reacts to it. The CRMs are then read back through their own APIs to show, for the people
touched, what each CRM said before and after — the connector's effect seen from the outside.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from connector import mirror as m
from connector.crm.clients import SalesforceConnection
from connector.model import Crm, Stage
from connector.push.writes import WriteKind
from connector.report import write_html
from connector.rules.loader import DEFAULT_MAPPING, load_mapping
from connector.sandbox.runner import Activity, Sandboxes, apply_activity, plan_activity, start_sandboxes
from connector.sync import Clients, CycleReport, run_cycle

LABELS = {
    "score_up": "score rose to 92 (HubSpot)",
    "is_accepts": "Inside Sales accepted (Salesforce)",
    "deal_won": "deal won",
    "deal_lost": "deal lost (HubSpot)",
    "churn": "customer churned (recorded by CS)",
    "new_lead": "new lead filled a form (HubSpot)",
}


@dataclass
class Snapshot:
    """What each CRM shows for the demo's people: email -> value."""

    hubspot: dict[str, str] = field(default_factory=dict)  # lifecyclestage
    salesforce: dict[str, str] = field(default_factory=dict)  # Lifecycle_Stage__c or Lead.Status


def snapshot(boxes: Sandboxes) -> Snapshot:
    """Read every person's stage from both CRMs: HubSpot's state dump, Salesforce through SOQL."""
    snap = Snapshot()
    with boxes.admin(Crm.HUBSPOT) as client:
        for rec in client.get("/__sandbox/state/contacts").raise_for_status().json()["results"]:
            props = rec.get("properties", {})
            snap.hubspot[(props.get("email") or "").lower()] = props.get("lifecyclestage") or "-"
    conn = SalesforceConnection(boxes.settings().salesforce)
    for sobject, stage_field in (("Lead", "Status"), ("Contact", "Lifecycle_Stage__c")):
        soql = f"SELECT Email, {stage_field} FROM {sobject}"  # noqa: S608 - constant names, no values

        def query(sf: Any, q: str = soql) -> list[dict[str, Any]]:
            return list(sf.query_all(q)["records"])

        for row in conn.call(query, what="demo read"):
            snap.salesforce[(row.get("Email") or "").lower()] = f"{sobject}: {row.get(stage_field) or '-'}"
    return snap


def _mqls(mirror: m.Mirror) -> set[str]:
    """Emails of the people the connector holds at MQL: who Inside Sales can accept."""
    with mirror.reader() as s:
        return {p.email.lower() for p in m.load_people(s) if p.stage is Stage.MQL and p.email}


def _cycle_table(n: int, report: CycleReport, seconds: float) -> Table:
    table = Table(title=f"cycle {n}: {seconds:.1f}s", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("figures", overflow="fold")
    pulled = ", ".join(f"{k} {v}" for k, v in sorted(report.records_pulled.items()) if v)
    by_rule = Counter({rule: n for (kind, rule), n in report.decisions.items() if kind != "skipped"})
    skipped = sum(n for (kind, _), n in report.decisions.items() if kind == "skipped")
    writes = Counter[str]()
    for (crm, outcome), k in report.writes.items():
        writes[f"{crm} {outcome}"] += k
    tasks = Counter(w.crm.value for w in report.planned if w.kind is WriteKind.TASK)
    table.add_row("records pulled", pulled or "none changed")
    table.add_row("decisions by rule", ", ".join(f"{r} {k}" for r, k in by_rule.most_common()) or "none")
    table.add_row("skipped (bad data)", str(skipped))
    table.add_row("writes", ", ".join(f"{k} {v}" for k, v in sorted(writes.items())) or "none")
    table.add_row("tasks created", ", ".join(f"{k} {v}" for k, v in sorted(tasks.items())) or "none")
    table.add_row("API calls", ", ".join(f"{k} {v}" for k, v in sorted(report.api_calls.items())))
    return table


def _tasks_by_email(mirror: m.Mirror, reports: list[CycleReport], emails: set[str]) -> Counter[str]:
    with mirror.reader() as s:
        ids = {e: m.resolve_person(s, e) for e in emails}
    by_person = Counter(w.person_id for r in reports for w in r.planned if w.kind is WriteKind.TASK)
    return Counter({e: by_person[pid] for e, pid in ids.items() if pid is not None})


def run_demo(console: Console, *, people: int = 2000, seed: int = 7, workdir: Path = Path("var")) -> None:
    """Start, seed, cycle, simulate, cycle, and show what changed; leaves the mirror in workdir."""
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "demo.db"
    for stale in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    console.rule("[bold]revops-sync demo[/bold]")
    boxes = start_sandboxes(workdir, people=people, seed=seed)
    try:
        env_file = boxes.write_env(
            workdir / "demo.env", REVOPS_DATABASE_URL=f"sqlite:///{db}", REVOPS_MAPPINGS=str(DEFAULT_MAPPING)
        )
        console.print(f"HubSpot sandbox    {boxes.hubspot.url}")
        console.print(f"Salesforce sandbox {boxes.salesforce.url} (HTTPS, CA {boxes.ca_pem})")
        w = boxes.world
        in_both = sum(p.in_hubspot and p.in_salesforce for p in w.people)
        console.print(
            f"seeded {len(w.people)} people ({in_both} in both CRMs), {len(w.deals)} deals, seed {seed}"
        )
        mapping = load_mapping(DEFAULT_MAPPING)
        mirror = m.open_mirror(f"sqlite:///{db}")
        clients = Clients.from_settings(boxes.settings())
        rng = random.Random(seed)
        before = snapshot(boxes)

        t = time.monotonic()
        first = run_cycle(clients, mirror, mapping)
        console.print(_cycle_table(1, first, time.monotonic() - t))

        activity = plan_activity(boxes, rng, per_kind=2, mqls=_mqls(mirror))
        apply_activity(boxes, activity)
        kinds = Counter(a.what for a in activity)
        console.print("simulated people's work: " + ", ".join(f"{LABELS[k]} x{n}" for k, n in kinds.items()))

        t = time.monotonic()
        second = run_cycle(clients, mirror, mapping)
        console.print(_cycle_table(2, second, time.monotonic() - t))
        after = snapshot(boxes)
        shown = _showcase(activity)
        emails = {a.email for a in shown if a.email}
        tasks = _tasks_by_email(mirror, [first, second], emails)
        console.print(_changes_table(shown, before, after, tasks))
        example = next((a.email for a in shown if a.what == "deal_won" and a.email), None) or next(
            iter(emails)
        )
        console.print(f"mirror: [bold]{db}[/bold] (SQLite: every record version, decision and write)")
        console.print(f"explain one person:  .venv/bin/revops-sync why {example} --env-file {env_file}")
        console.print(f"replay the rules:    .venv/bin/revops-sync plan --env-file {env_file}")
        _report(console, mirror, workdir)
        mirror.close()
    finally:
        boxes.stop()
    console.rule(f"done in {time.monotonic() - started:.0f}s")


def _showcase(activity: list[Activity]) -> list[Activity]:
    """One person per kind of work (deal kinds need an email to show), in a stable order."""
    seen: dict[tuple[str, Crm], Activity] = {}
    for a in activity:
        if a.email and (a.what, a.crm) not in seen:
            seen[(a.what, a.crm)] = a
    return list(seen.values())


def _changes_table(shown: list[Activity], before: Snapshot, after: Snapshot, tasks: Counter[str]) -> Table:
    table = Table(
        title="what changed in both CRMs (people touched by the simulated work)", title_justify="left"
    )
    for col in ("email", "what happened", "HubSpot lifecyclestage", "Salesforce", "tasks"):
        table.add_column(col, overflow="fold")
    for a in shown:
        email = (a.email or "").lower()
        hs = f"{before.hubspot.get(email, '-')} → {after.hubspot.get(email, '-')}"
        sf = f"{before.salesforce.get(email, '-')} → {after.salesforce.get(email, '-')}"
        label = LABELS[a.what] + (f" ({a.crm.value})" if a.what == "deal_won" else "")
        table.add_row(email, label, hs, sf, str(tasks.get(email, 0)))
    return table


def _report(console: Console, mirror: m.Mirror, workdir: Path) -> None:
    """Write the self-contained HTML funnel report beside the mirror."""
    path = write_html(mirror, workdir / "report.html")
    console.print(f"HTML funnel report: [bold]{path}[/bold]  (terminal: revops-sync report)")
