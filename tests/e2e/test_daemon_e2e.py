"""The product end to end: `revops-sync serve` cycles while people work in both sandboxes, then both
CRMs hold exactly what the rules decided, a further cycle changes nothing, and `why` explains it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from simple_salesforce.format import format_soql

from connector import mirror as m
from connector.crm.clients import SalesforceConnection
from connector.model import Crm
from connector.rules.loader import load_mapping
from connector.sandbox.runner import Sandboxes, apply_activity, plan_activity
from connector.sync import Clients, run_cycle
from tests.e2e.harness import CLI, MAPPING, StartDaemon

SETTLED = {"sent", "dead", "conflict", "superseded"}


def _outbox(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM outbox ORDER BY created_at, key").fetchall()


def _hubspot(boxes: Sandboxes, kind: str) -> list[dict[str, Any]]:
    with boxes.admin(Crm.HUBSPOT) as client:
        return list(client.get(f"/__sandbox/state/{kind}").raise_for_status().json()["results"])


def _soql(boxes: Sandboxes, query: str) -> list[dict[str, Any]]:
    conn = SalesforceConnection(boxes.settings().salesforce)

    def run(sf: Any) -> list[dict[str, Any]]:
        return list(sf.query_all(query)["records"])

    return conn.call(run, what="e2e read")


def _salesforce_values(boxes: Sandboxes, wanted: dict[str, dict[str, set[str]]]) -> dict[str, dict[str, Any]]:
    """object type -> {id: record} for the ids and fields the outbox wrote."""
    out: dict[str, dict[str, Any]] = {}
    for sobject, by_id in wanted.items():
        fields = sorted(set().union(*by_id.values()) | {"Id"})
        ids = sorted(by_id)
        for start in range(0, len(ids), 200):
            query = format_soql(
                f"SELECT {', '.join(fields)} FROM {sobject} WHERE Id IN {{}}", ids[start : start + 200]
            )
            for rec in _soql(boxes, query):
                out.setdefault(sobject, {})[str(rec["Id"])] = rec
    return out


def assert_crms_hold_the_decisions(boxes: Sandboxes, db: Path) -> None:
    """Every record's latest stage write that was sent is what the CRM holds now; tasks match 1:1."""
    rows = _outbox(db)
    assert {r["status"] for r in rows} <= SETTLED, Counter(r["status"] for r in rows)
    latest: dict[tuple[str, str, str], sqlite3.Row] = {}
    for r in rows:
        if r["op"] == "stage_update":
            latest[(r["crm"], r["object_type"], r["record_id"])] = r
    hs_contacts = {str(c["id"]): c["properties"] for c in _hubspot(boxes, "contacts")}
    sf_wanted: dict[str, dict[str, set[str]]] = {}
    for (crm, obj, rid), r in latest.items():
        if crm == "salesforce" and r["status"] == "sent":
            sf_wanted.setdefault(obj, {})[rid] = set(json.loads(r["payload"])["properties"])
    sf_records = _salesforce_values(boxes, sf_wanted)
    checked = Counter[str]()
    for (crm, obj, rid), r in latest.items():
        if r["status"] != "sent":
            continue
        wrote = json.loads(r["payload"])["properties"]
        held = hs_contacts[rid] if crm == "hubspot" else sf_records[obj][rid]
        for name, value in wrote.items():
            assert str(held.get(name) or "") == str(value), (
                f"{crm} {obj} {rid} {name}: {held.get(name)} != {value}"
            )
        checked[crm] += 1
    assert checked["hubspot"] > 50
    assert checked["salesforce"] > 20

    sent_tasks = {
        crm: {
            r["key"] for r in rows if r["op"] == "task_create" and r["crm"] == crm and r["status"] == "sent"
        }
        for crm in ("hubspot", "salesforce")
    }
    hs_keys = [t["properties"].get("revops_idempotency_key") for t in _hubspot(boxes, "tasks")]
    hs_keys = [k for k in hs_keys if k]
    sf_keys = [
        t["Revops_Key__c"] for t in _soql(boxes, "SELECT Revops_Key__c FROM Task WHERE Revops_Key__c != null")
    ]
    assert len(hs_keys) == len(set(hs_keys)), "duplicate HubSpot tasks"
    assert len(sf_keys) == len(set(sf_keys)), "duplicate Salesforce tasks"
    assert set(hs_keys) == sent_tasks["hubspot"]
    assert set(sf_keys) == sent_tasks["salesforce"]
    assert sent_tasks["hubspot"] or sent_tasks["salesforce"]


def test_daemon_keeps_both_crms_on_the_rules_while_people_work(
    start_daemon: StartDaemon, boxes: Sandboxes, tmp_path: Path
) -> None:
    activity = plan_activity(boxes, random.Random(5), per_kind=2)
    daemon = start_daemon(level="DEBUG")
    done = daemon.wait_cycles(1)
    for round_no in range(3):
        apply_activity(boxes, activity[round_no::3])
        done = daemon.wait_cycles(done + 1)
    daemon.wait_cycles(done + 3)  # the last work is pulled, judged, written, and read back
    metrics = daemon.metrics()
    assert metrics['revops_sync_records_pulled_total{stream="hubspot.contacts"}'] >= 300
    assert metrics['revops_sync_writes_total{crm="hubspot",result="sent"}'] > 50
    assert metrics['revops_sync_decisions_total{kind="transition",rule="customer-won-deal"}'] >= 1
    assert metrics['revops_sync_api_calls_total{crm="salesforce"}'] > 0
    assert 0 < metrics['revops_sync_api_quota_remaining{crm="salesforce"}'] < 15_000
    assert metrics["revops_sync_last_success_timestamp_seconds"] > 0
    assert metrics['revops_sync_cycle_duration_seconds{job="funnel"}'] > 0
    assert daemon.stop() == 0
    assert any("stopping on SIGTERM" in str(r["msg"]) for r in daemon.records())

    db = tmp_path / "mirror.db"
    assert_crms_hold_the_decisions(boxes, db)

    mirror = m.open_mirror(f"sqlite:///{db}")
    again = run_cycle(Clients.from_settings(boxes.settings()), mirror, load_mapping(MAPPING))
    assert again.writes == {}
    assert again.outbox_new == 0

    contacts = {
        str(c["properties"].get("email") or "").lower(): c["properties"] for c in _hubspot(boxes, "contacts")
    }
    expected = {"score_up": "marketingqualifiedlead", "new_lead": "marketingqualifiedlead", "churn": "other"}
    for a in activity:
        if a.what in expected and a.email:
            assert contacts[a.email.lower()]["lifecyclestage"] == expected[a.what], a
    won = [a for a in activity if a.what == "deal_won" and a.crm is Crm.HUBSPOT and a.email]
    for a in won:
        assert contacts[(a.email or "").lower()]["lifecyclestage"] == "customer", a

    why = subprocess.run(
        [
            str(CLI),
            "why",
            won[0].email or "",
            "--db",
            f"sqlite:///{db}",
            "--env-file",
            str(tmp_path / "none.env"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"COLUMNS": "250", "PATH": str(CLI.parent)},
    )
    text = " ".join(why.stdout.split())
    assert "customer-won-deal" in text
    assert "-> customer" in text
    assert "stage_update -> hubspot contacts" in text
    assert "sent" in text
    assert again.mapping_version in text
