"""What must hold after any fault: checked against the sandboxes' stores and the mirror.

`losses` counts what a fault cost (0 is the only passing value), so each test can both assert it
and report it to the suite summary with `record_property("lost", n)`.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from connector.crm.streams import get_stream
from connector.mirror import tables as t
from connector.mirror.cursors import all_cursors
from connector.mirror.integrity import integrity_check
from connector.model import Crm
from connector.push.crash import ENV
from connector.push.writes import WriteKind
from tests.contract.push.harness import Crms, outbox, start_crms

ROOT = Path(__file__).resolve().parents[2]
RecordProperty = Callable[[str, object], None]  # the record_property fixture
SETTLED = frozenset({"sent", "dead", "conflict", "superseded"})


@contextmanager
def started(directory: Path, people: int = 150, seed: int = 11) -> Iterator[Crms]:
    crms = start_crms(directory, people=people, seed=seed)
    try:
        yield crms
    finally:
        crms.stop()


def child(crms: Crms, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`python -m connector.sync` against these sandboxes, as the daemon's cycle would run it."""
    base = {k: v for k, v in crms.env().items() if k != ENV}
    return subprocess.Popen(
        [sys.executable, "-m", "connector.sync", *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_child(crms: Crms, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = child(crms, *args, env=env)
    _, err = proc.communicate(timeout=180)
    return proc.returncode, err


def work(crms: Crms, rng: random.Random, n: int = 6) -> None:
    """People working in both CRMs: scores up (promotions), titles changed, a lead worked."""
    contacts = sorted(crms.hs_app.store.records["contacts"])
    hs = [
        {"action": "edit", "type": "contacts", "id": str(rid), "properties": {"hubspotscore": "92",
         "jobtitle": "Director of Operations"}}
        for rid in rng.sample(contacts, min(n, len(contacts)))
    ]  # fmt: skip
    crms.admin("hubspot", "POST", "activity", hs)
    leads = sorted(str(r["Id"]) for r in crms.sf_app.store.live("Lead"))
    sf = [
        {"action": "edit", "type": "Lead", "id": rid, "fields": {"Lead_Score__c": "91", "Title": "VP Sales"}}
        for rid in rng.sample(leads, min(n, len(leads)))
    ]
    crms.admin("salesforce", "POST", "activity", sf)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def cursor_problems(crms: Crms) -> list[str]:
    """A live stream's watermark never passes the newest record committed for it."""
    mirror = crms.mirror()
    problems = []
    try:
        with mirror.reader() as s:
            for cur in all_cursors(s):
                stream = get_stream(cur.stream)
                watermark = json.loads(cur.value).get("watermark")
                if stream.kind == "archived" or not watermark:
                    continue
                rec = t.RECORDS.c
                newest = (
                    s.connection()
                    .execute(
                        select(func.max(rec.modified_at)).where(
                            rec.crm == stream.crm.value, rec.object_type == stream.object
                        )
                    )
                    .scalar()
                )
                at = datetime.fromisoformat(watermark.replace("Z", "+00:00"))
                if newest is None or at > _aware(newest):
                    problems.append(f"{cur.stream}: watermark {watermark} > committed {newest}")
    finally:
        mirror.close()
    return problems


def mid_crash_problems(crms: Crms) -> list[str]:
    """What must hold even right after a kill -9, before any restart."""
    mirror = crms.mirror()
    try:
        with mirror.reader() as s:
            problems = integrity_check(s)
    finally:
        mirror.close()
    for crm, keys in (("hubspot", crms.hubspot_task_keys()), ("salesforce", crms.salesforce_task_keys())):
        problems += [f"{crm} task {k} exists {n} times" for k, n in keys.items() if n > 1]
    return problems + cursor_problems(crms)


def losses(crms: Crms) -> list[str]:
    """After recovery: every decided write settled, the last one sent per field held by its CRM
    (a later decision may overwrite an earlier one), every task exactly once."""
    problems = mid_crash_problems(crms)
    problems += [f"outbox {w.key}: still {status}" for status, w in outbox(crms) if status not in SETTLED]
    latest: dict[tuple[str, str, str], tuple[str, str]] = {}  # (crm, record, field) -> (value, key)
    tasks = {Crm.HUBSPOT: crms.hubspot_task_keys(), Crm.SALESFORCE: crms.salesforce_task_keys()}
    for _, write in outbox(crms, "status = 'sent' ORDER BY sent_at, rowid"):
        if write.kind is WriteKind.TASK:
            n = tasks[write.crm][write.key]
            problems += [] if n == 1 else [f"task {write.key} exists {n} times"]
            continue
        assert write.record_id is not None
        for name, value in write.properties.items():
            latest[write.crm.value, f"{write.object_type}/{write.record_id}", name] = (value, write.key)
    for (crm, ref, name), (value, key) in latest.items():
        otype, rid = ref.split("/")
        held = crms.hubspot_contact(rid) if crm == "hubspot" else crms.salesforce_record(otype, rid)
        if held.get(name) != value:
            problems.append(f"{key}: {crm} {ref} {name} is {held.get(name)!r}, sent {value!r}")
    return problems


def settled_to_rules(crms: Crms) -> list[str]:
    """One more full cycle from the sources: if the CRMs hold what the rules require, it writes nothing.
    `--full`: everyone is evaluated, not only the people something changed for."""
    crms.clear_ledgers()
    code, err = run_child(crms, "--full")
    if code:
        return [f"verification cycle failed: {err[-500:]}"]
    return [f"{c['crm']} {c['method']} {c['path']}" for c in crms.write_calls()]
