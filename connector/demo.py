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
from simple_salesforce.format import format_soql

from connector import mirror as m
from connector.crm.clients import SalesforceConnection
from connector.model import Crm
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


def snapshot(boxes: Sandboxes, emails: set[str]) -> Snapshot:
    """Read both CRMs for these emails: HubSpot from the sandbox's state dump, Salesforce by SOQL."""
    snap = Snapshot()
    wanted = {e.lower() for e in emails}
    with boxes.admin(Crm.HUBSPOT) as client:
        for rec in client.get("/__sandbox/state/contacts").raise_for_status().json()["results"]:
            props = rec.get("properties", {})
            email = (props.get("email") or "").lower()
            if email in wanted:
                snap.hubspot[email] = props.get("lifecyclestage") or "-"
    conn = SalesforceConnection(boxes.settings().salesforce)
    for sobject, fields in (("Lead", "Email, Status"), ("Contact", "Email, Lifecycle_Stage__c")):
        soql = format_soql(f"SELECT {fields} FROM {sobject} WHERE Email IN {{}}", sorted(wanted))  # noqa: S608

        def query(sf: Any, q: str = soql) -> list[dict[str, Any]]:
            return list(sf.query_all(q)["records"])

        for row in conn.call(query, what="demo read"):
            value = row.get("Status") if sobject == "Lead" else row.get("Lifecycle_Stage__c")
            snap.salesforce[(row.get("Email") or "").lower()] = f"{sobject}: {value or '-'}"
    return snap


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
        activity = plan_activity(boxes, rng, per_kind=2)
        shown = _showcase(activity)
        emails = {a.email for a in shown if a.email}
        before = snapshot(boxes, emails)

        t = time.monotonic()
        first = run_cycle(clients, mirror, mapping)
        console.print(_cycle_table(1, first, time.monotonic() - t))

        apply_activity(boxes, activity)
        kinds = Counter(a.what for a in activity)
        console.print("simulated people's work: " + ", ".join(f"{LABELS[k]} x{n}" for k, n in kinds.items()))

        t = time.monotonic()
        second = run_cycle(clients, mirror, mapping)
        console.print(_cycle_table(2, second, time.monotonic() - t))
        after = snapshot(boxes, emails)
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
