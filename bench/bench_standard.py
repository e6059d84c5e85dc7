"""The standard scenario, end to end: full sync, incremental cycle, no-change cycle.

World: `connector.sandbox.seed.generate(60,000 people)`, then reshaped to the issue's exact sizes
(the generator splits people evenly between the CRMs and makes only converted people Salesforce
Contacts, so it cannot hit these counts on its own): people 0-49,999 live in HubSpot (50,000
contacts), people 30,000-59,999 in Salesforce (20,000 in both CRMs); of the Salesforce people the
converted ones and then the next in order are Contacts (10,000), the rest Leads (20,000); the first
10,000 deals live in both CRMs (10,000 HubSpot deals, 10,000 opportunities), re-pointed at a
person in both CRMs where theirs is not. 5% of the people (3,000) change between cycles through
the sandboxes' /__sandbox/activity APIs, as people in the UI would: half get a score of 92 and a
Director title (the rules may promote them), half a small score change.

The sandboxes run in a child process, so CPU and peak RSS are the connector's alone. HubSpot's real
limits are enforced for every phase (190 requests / 10 s, search 5/s, answered with 429 like the
real API); the wall-time floor those limits allow is search pages / 5 s + other HubSpot calls / 19
per s, for the minimum number of calls. API calls come from the sandboxes' ledgers, and the minimum
from sync-reliability-notes.md §1, with N = records the cycle read as changed (the edits plus the
previous cycle's own writes, which change records too) and T/K = the stage updates and tasks
planned.

    python bench/bench_standard.py                          # the full scenario
    BENCH_STANDARD_SCALE=0.1 python bench/bench_standard.py  # a tenth of the sizes, a quick look
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import emit, peak_rss_mb

NAME = "standard"
SCALE = float(os.environ.get("BENCH_STANDARD_SCALE", "1"))
SIZES = {"people": 60_000, "hs_people": 50_000, "sf_people": 30_000, "sf_contacts": 10_000, "deals": 10_000}
CHANGE_SHARE = 0.05
SEED = 7


def scaled() -> dict[str, int]:
    return {k: max(1, int(v * SCALE)) for k, v in SIZES.items()}


# ---- the sandbox process ------------------------------------------------------------------------
def build_world(sizes: dict[str, int]) -> Any:
    """seed.generate, reshaped to the standard sizes (see the module docstring)."""
    from connector.sandbox.seed import generate  # noqa: PLC0415

    total = sizes["people"]
    world = generate(total, SEED, now=datetime.now(UTC) - timedelta(minutes=5))
    first_sf = total - sizes["sf_people"]
    sf_people = []
    for i, p in enumerate(world.people):
        p.in_hubspot = i < sizes["hs_people"]
        p.in_salesforce = i >= first_sf
        if p.in_salesforce:
            sf_people.append(p)
    converted_first = sorted(sf_people, key=lambda p: p.sf_object != "Contact")
    for n, p in enumerate(converted_first):
        p.sf_object = "Contact" if n < sizes["sf_contacts"] else "Lead"
        if p.sf_object == "Lead" and p.sf_lead_status == "Closed - Converted":
            p.sf_lead_status = "Working - Contacted"
    both = [p for p in world.people if p.in_hubspot and p.in_salesforce]
    by_key = {p.key: p for p in world.people}
    for n, d in enumerate(world.deals):
        keep = n < sizes["deals"]
        d.in_hubspot = d.in_salesforce = keep
        owner = by_key[d.person_key]
        if keep and not (owner.in_hubspot and owner.in_salesforce):
            d.person_key = both[n % len(both)].key
            d.company_key = by_key[d.person_key].company_key
    if len(world.deals) < sizes["deals"]:
        raise SystemExit(f"the seeded world has only {len(world.deals)} deals; raise the people count")
    return world


def serve_forever(sizes: dict[str, int], directory: str) -> None:
    from connector.sandbox.base import serve  # noqa: PLC0415
    from connector.sandbox.hubspot import HubSpotLimits  # noqa: PLC0415
    from connector.sandbox.hubspot import make_app as hubspot_app  # noqa: PLC0415
    from connector.sandbox.salesforce import make_app as salesforce_app  # noqa: PLC0415
    from connector.sandbox.salesforce import make_tls  # noqa: PLC0415

    world = build_world(sizes)
    limits = HubSpotLimits(burst=190, search_per_second=5, daily=10_000_000)
    hs_app = hubspot_app(world, limits=limits, seed=SEED)
    hs = serve(hs_app)
    ctx, ca = make_tls(Path(directory))
    sf_app = salesforce_app(world, daily_limit=10_000_000, seed=SEED)
    sf = serve(sf_app, ssl_context=ctx)
    counts = {
        "hubspot": {k: len(v) for k, v in hs_app.store.records.items()},
        "salesforce": {k: len(v) for k, v in sf_app.store.records.items()},
    }
    print(json.dumps({"hs": hs.url, "sf": sf.url, "ca": str(ca), "counts": counts}), flush=True)
    while True:
        time.sleep(3600)


# ---- the connector process ----------------------------------------------------------------------
@dataclass
class Sandboxes:
    """The child process's URLs and admin access, seen from the connector's side."""

    info: dict[str, Any]

    def admin(self, crm: str) -> Any:
        import httpx  # noqa: PLC0415

        if crm == "hubspot":
            return httpx.Client(base_url=self.info["hs"], timeout=120)
        return httpx.Client(base_url=self.info["sf"], timeout=120, verify=self.info["ca"])

    def ledgers(self) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for crm in ("hubspot", "salesforce"):
            with self.admin(crm) as c:
                out[crm] = c.get("/__sandbox/ledger").raise_for_status().json()
                c.delete("/__sandbox/ledger").raise_for_status()
        return out

    def settings(self, db: str) -> Any:
        from connector.config import HubSpotSettings, SalesforceSettings, Secret, Settings  # noqa: PLC0415

        return Settings(
            hubspot=HubSpotSettings(base_url=self.info["hs"], access_token=Secret("pat-sandbox")),
            salesforce=SalesforceSettings(
                instance_url=self.info["sf"], login_url=self.info["sf"], client_id="sandbox-client",
                client_secret=Secret("sandbox-secret"), ca_bundle=self.info["ca"],
            ),
            database_url=f"sqlite:///{db}",
        )  # fmt: skip

    def change_people(self, rng: random.Random) -> int:
        """Edit CHANGE_SHARE of the people, each in one CRM, through the activity APIs."""
        with self.admin("hubspot") as hs, self.admin("salesforce") as sf:
            hs_ids: dict[str, str] = hs.get("/__sandbox/keys").raise_for_status().json()
            sf_ids: dict[str, str] = sf.get("/__sandbox/ids").raise_for_status().json()
            sf_type = self.info["sf_types"]
            people = sorted(
                {*(k for k in hs_ids if k.startswith("p-")), *(k for k in sf_ids if k in sf_type)}
            )
            chosen = rng.sample(people, int(len(people) * CHANGE_SHARE))
            hs_actions, sf_actions = [], []
            for n, key in enumerate(chosen):
                promote = n % 2 == 0
                score = "92" if promote else str(rng.randint(10, 40))
                if key in hs_ids and (key not in sf_type or n % 3):
                    props = {
                        "hubspotscore": score,
                        **({"jobtitle": "Director of Operations"} if promote else {}),
                    }
                    hs_actions.append(
                        {"action": "edit", "type": "contacts", "id": hs_ids[key], "properties": props}
                    )
                else:
                    fields = {
                        "Lead_Score__c": score,
                        **({"Title": "Director of Operations"} if promote else {}),
                    }
                    sf_actions.append(
                        {"action": "edit", "type": sf_type[key], "id": sf_ids[key], "fields": fields}
                    )
            for client, actions in ((hs, hs_actions), (sf, sf_actions)):
                for i in range(0, len(actions), 1000):
                    client.post("/__sandbox/activity", json=actions[i : i + 1000]).raise_for_status()
        return len(chosen)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def classify(crm: str, entry: dict[str, Any]) -> str:
    path = entry["path"]
    if crm == "hubspot":
        if path.endswith("/search"):
            return "search"
        return (
            "write"
            if any(w in path for w in ("/batch/update", "/batch/create", "/batch/upsert"))
            else "other"
        )
    if "/composite/sobjects" in path:
        return "write"
    return "query" if "/query" in path else "other"


def minimum(pulled: dict[str, int], planned: Counter[tuple[str, str]], first: bool) -> dict[str, int]:
    """§1 minimal calls: pages for the changed records (one per stream to learn nothing changed),
    associations, writes; describes and the OAuth login on the first cycle of a process."""
    hs_search = sum(max(1, math.ceil(pulled.get(s, 0) / 200)) for s in ("hubspot.contacts", "hubspot.deals"))
    hs_other = math.ceil(pulled.get("hubspot.deals", 0) / 1000)  # associations
    hs_other += sum(1 for s in pulled if s.endswith(".archived"))  # one list call per sweep run
    hs_other += math.ceil(planned["hubspot", "stage"] / 100) + math.ceil(planned["hubspot", "task"] / 100)
    sf_streams = [s for s in pulled if s.startswith("salesforce.")]
    sf = sum(max(1, math.ceil(pulled[s] / 2000)) for s in sf_streams)
    sf += math.ceil(planned["salesforce", "stage"] / 200) + math.ceil(planned["salesforce", "task"] / 200)
    sf += (len(sf_streams) + 1) if first else 0
    return {"hubspot search": hs_search, "hubspot other": hs_other, "salesforce": sf}


def run_phase(label: str, boxes: Sandboxes, clients: Any, db: str, *, first: bool, per_record: bool) -> None:
    from connector.mirror.db import open_mirror  # noqa: PLC0415
    from connector.rules.loader import load_mapping  # noqa: PLC0415
    from connector.sync import run_cycle  # noqa: PLC0415

    mirror = open_mirror(f"sqlite:///{db}")
    load = os.getloadavg()[0]
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    report = run_cycle(clients, mirror, load_mapping(), datetime.now(UTC))
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    mirror.close()
    ledgers = boxes.ledgers()
    if dump := os.environ.get("BENCH_STANDARD_LEDGERS"):  # a directory: each phase's calls, to diagnose
        Path(dump, f"{label.replace(' ', '-')}.json").write_text(json.dumps(ledgers, indent=0))
    used = Counter(f"{crm} {classify(crm, e)}" for crm, entries in ledgers.items() for e in entries)
    throttled = sum(1 for e in ledgers["hubspot"] if e["status"] == 429)
    planned = Counter((w.crm.value, w.kind.value) for w in report.planned)
    least = minimum(report.records_pulled, planned, first)
    records = sum(report.records_pulled.values())
    total_used = sum(used.values())
    floor = least["hubspot search"] / 5 + least["hubspot other"] / 19
    emit(
        NAME, f"{label}: records read / people evaluated", records, "records", note=f"{report.people} people"
    )
    emit(NAME, f"{label}: writes planned (stage T / task K)", len(report.planned), "writes",
         note=", ".join(f"{c} {k} {n}" for (c, k), n in sorted(planned.items())))  # fmt: skip
    emit(NAME, f"{label}: API calls used", total_used, "calls", target=f"minimum {sum(least.values())}",
         note=", ".join(f"{k} {n}" for k, n in sorted(used.items())))  # fmt: skip
    emit(NAME, f"{label}: HubSpot 429 answers (limits enforced)", throttled, "calls")
    if per_record:  # meaningless for a cycle that reads next to nothing
        emit(NAME, f"{label}: connector CPU per record read", cpu / records * 1e6, "µs")
    emit(NAME, f"{label}: connector CPU per person evaluated", cpu / max(report.people, 1) * 1e6, "µs")
    emit(NAME, f"{label}: connector CPU", cpu, "s")
    emit(NAME, f"{label}: connector peak RSS so far", peak_rss_mb(), "MB")
    cores = f"load average {load:.1f} on {os.cpu_count()} cores"
    emit(
        NAME,
        f"{label}: wall time, HubSpot limits enforced",
        wall,
        "s",
        target=f"floor {floor:.1f} s",
        note=cores,
    )
    if report.planned:
        push_efficiency(label, ledgers, planned, sum(1 for w in report.planned if w.clear_first))
    if report.dead:
        emit(NAME, f"{label}: dead letters", report.dead, "writes")


def push_efficiency(
    label: str, ledgers: dict[str, Any], planned: Counter[tuple[str, str]], clears: int
) -> None:
    """Write calls answered (not 429) against issue 5's floors: HubSpot ceil(T/100) + ceil(K/100),
    plus one request per 100 backward moves (the clear); Salesforce ceil((T+K)/200)."""
    for crm in ("hubspot", "salesforce"):
        t, k = planned[crm, "stage"], planned[crm, "task"]
        calls = sum(1 for e in ledgers[crm] if classify(crm, e) == "write" and e["status"] != 429)
        if crm == "hubspot":
            floor = f"minimum {math.ceil(t / 100) + math.ceil(k / 100)}"
            floor += f" + {math.ceil(clears / 100)} for the clears" if clears else ""
        else:
            least = math.ceil((t + k) / 200)
            split = math.ceil(t / 200) + math.ceil(k / 200)  # the Task upsert is its own request
            floor = f"minimum {least}"
            floor += f" ({split} with tasks on their upsert endpoint)" if split > least else ""
        emit(NAME, f"{label}: {crm} write calls", calls, "calls", target=floor, note=f"T {t}, K {k}")
        emit(NAME, f"{label}: {crm} writes per call", (t + k) / max(calls, 1), "writes/call")


def main() -> None:
    from connector.sync import Clients  # noqa: PLC0415

    sizes = scaled()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", json.dumps(sizes), tmp], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            info = json.loads(proc.stdout.readline())
            emit(NAME, "seed both sandboxes (child process)", time.perf_counter() - started, "s",
                 note=json.dumps(info["counts"]))  # fmt: skip
            boxes = Sandboxes(info)
            with boxes.admin("salesforce") as sf:
                ids = sf.get("/__sandbox/ids").raise_for_status().json()
            info["sf_types"] = {k: ("Contact" if v.startswith("003") else "Lead") for k, v in ids.items()
                                if k.startswith("p-")}  # fmt: skip
            boxes.ledgers()  # the admin calls above are not the connector's
            db = f"{tmp}/mirror.db"
            clients = Clients.from_settings(boxes.settings(db))
            run_phase("full sync", boxes, clients, db, first=True, per_record=True)
            changed = boxes.change_people(random.Random(SEED))
            emit(NAME, "people changed between cycles", changed, "people", note=f"{CHANGE_SHARE:.0%}")
            boxes.ledgers()
            run_phase("incremental cycle", boxes, clients, db, first=False, per_record=True)
            run_phase("no-change cycle", boxes, clients, db, first=False, per_record=False)
        finally:
            proc.kill()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve_forever(json.loads(sys.argv[2]), sys.argv[3])
    else:
        from connector.mirror.memstatus import memory_statistics_off

        memory_statistics_off()  # as `revops-sync` does at start-up
        main()
