"""Pull benchmark: API calls against the minimum, connector CPU per record, backfill peak RSS.

World: 50,000 HubSpot contacts + 10,000 deals; 20,000 Salesforce leads + 10,000 contacts +
10,000 opportunities (+ their accounts). The sandboxes run in a child process, so the CPU and RSS
figures are the connector's alone (the sandboxes' own work is not counted).

    python bench/bench_pull.py            # 3 full pulls, no-change cycle, 200k-record backfill
    BENCH_PULL_SCALE=0.1 python bench/bench_pull.py   # a tenth of the sizes, for a quick look
    BENCH_PULL_REPEAT=1 python bench/bench_pull.py    # one full pull instead of the best of 3
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import emit, peak_rss_mb
from bench._speed import reference_ms

if TYPE_CHECKING:  # the connector is imported lazily: the sandbox child needs none of the reader side
    from connector.config import Settings
    from connector.crm.protocol import CrmReader
    from connector.mirror.db import Mirror
    from connector.sandbox.world import World

SCALE = float(os.environ.get("BENCH_PULL_SCALE", "1"))
MAIN = {
    "hs_contacts": 50_000,
    "hs_deals": 10_000,
    "sf_leads": 20_000,
    "sf_contacts": 10_000,
    "sf_opps": 10_000,
}
# 200,000 records for the backfill: the main HubSpot side plus a larger Salesforce org.
BACKFILL = {
    "hs_contacts": 50_000,
    "hs_deals": 10_000,
    "sf_leads": 110_000,
    "sf_contacts": 20_000,
    "sf_opps": 10_000,
}
NOW = datetime(2026, 11, 1, tzinfo=UTC)


class SandboxInfo(TypedDict):
    """What the sandbox child prints on its first line (JSON)."""

    hs: str
    sf: str
    ca: str
    counts: dict[str, dict[str, int]]


def scaled(sizes: dict[str, int]) -> dict[str, int]:
    return {k: max(1, int(v * SCALE)) for k, v in sizes.items()}


# ---- the sandbox process ------------------------------------------------------------------------
def build_world(sizes: dict[str, int]) -> World:
    """A deterministic world with exactly the requested counts, every record dated in the past."""
    from connector.sandbox.world import Company, Owner, SeedDeal, SeedPerson, World  # noqa: PLC0415

    companies = [
        Company(f"co-{i:04d}", f"Company {i}", f"co{i}.example", "Software", 20 + i, "EMEA")
        for i in range(200)
    ]
    people = []
    n_people = max(sizes["hs_contacts"], sizes["sf_leads"] + sizes["sf_contacts"])
    for i in range(n_people):
        sf_index = i - (n_people - sizes["sf_leads"] - sizes["sf_contacts"])
        in_sf = sf_index >= 0
        sf_object = "Contact" if in_sf and sf_index < sizes["sf_contacts"] else "Lead"
        at = NOW - timedelta(days=400) + timedelta(seconds=37 * i)
        people.append(
            SeedPerson(
                key=f"p-{i:07d}", first_name=f"F{i}", last_name=f"L{i}", email=f"p{i}@co{i % 200}.example",
                title="VP Sales" if i % 3 else "Engineer", company_key=f"co-{i % 200:04d}", created_at=at,
                lead_score=str(i % 100), in_hubspot=i < sizes["hs_contacts"], lifecyclestage="lead",
                hs_lead_status="NEW", in_salesforce=in_sf, sf_object=sf_object,
                sf_lead_status="Open - Not Contacted", modified_at=at + timedelta(days=1),
            )
        )  # fmt: skip
    contacts = [p for p in people if p.in_salesforce and p.sf_object == "Contact"] or people
    deals = []
    for i in range(max(sizes["hs_deals"], sizes["sf_opps"])):
        person = contacts[i % len(contacts)]
        at = NOW - timedelta(days=300) + timedelta(seconds=53 * i)
        deals.append(
            SeedDeal(
                key=f"d-{i:07d}", name=f"Deal {i}", person_key=person.key, company_key=person.company_key,
                amount=1000.0 + i, created_at=at, close_date=at + timedelta(days=60),
                in_hubspot=i < sizes["hs_deals"] and person.in_hubspot, hs_dealstage="qualifiedtobuy",
                in_salesforce=i < sizes["sf_opps"], sf_stage="Prospecting",
                modified_at=at + timedelta(days=1),
            )
        )  # fmt: skip
    owners = [Owner("own-01", "Olive", "olive@example.com", "IS")]
    return World(seed=0, now=NOW, companies=companies, owners=owners, people=people, deals=deals, tasks=[])


def serve_forever(sizes: dict[str, int], directory: str) -> None:
    from connector.sandbox.base import serve  # noqa: PLC0415
    from connector.sandbox.hubspot import HubSpotLimits  # noqa: PLC0415
    from connector.sandbox.hubspot import make_app as hubspot_app  # noqa: PLC0415
    from connector.sandbox.salesforce import make_app as salesforce_app  # noqa: PLC0415
    from connector.sandbox.salesforce import make_tls  # noqa: PLC0415

    world = build_world(sizes)
    hs_app = hubspot_app(world, limits=HubSpotLimits(enforce=False))
    hs = serve(hs_app)
    ctx, ca = make_tls(Path(directory))
    sf_app = salesforce_app(world, daily_limit=10_000_000)
    sf = serve(sf_app, ssl_context=ctx)
    counts = {
        "hubspot": {k: len(v) for k, v in hs_app.store.records.items()},
        "salesforce": {k: len(v) for k, v in sf_app.store.records.items()},
    }
    print(json.dumps({"hs": hs.url, "sf": sf.url, "ca": str(ca), "counts": counts}), flush=True)
    while True:
        time.sleep(3600)


def start_sandboxes(sizes: dict[str, int], directory: str) -> tuple[subprocess.Popen[str], SandboxInfo]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", json.dumps(sizes), directory], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    info: SandboxInfo = json.loads(proc.stdout.readline())
    return proc, info


# ---- the connector side ---------------------------------------------------------------------------
def settings_for(info: SandboxInfo) -> Settings:
    from connector.config import HubSpotSettings, SalesforceSettings, Secret, Settings  # noqa: PLC0415

    return Settings(
        # unpaced: this sandbox enforces no limits and the bench measures CPU and calls, not the
        # 5 searches/s wait (bench_standard runs with HubSpot's limits and the pacing on)
        hubspot=HubSpotSettings(base_url=str(info["hs"]), access_token=Secret("pat-sandbox"), search_rate=0),
        salesforce=SalesforceSettings(
            instance_url=str(info["sf"]), login_url=str(info["sf"]), client_id="sandbox-client",
            client_secret=Secret("sandbox-secret"), ca_bundle=str(info["ca"]),
        ),
    )  # fmt: skip


def readers(info: SandboxInfo) -> list[CrmReader]:
    from connector.crm.clients import HubSpotConnection, SalesforceConnection  # noqa: PLC0415
    from connector.pull import readers_for  # noqa: PLC0415

    s = settings_for(info)
    return readers_for(HubSpotConnection(s.hubspot), SalesforceConnection(s.salesforce))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def system_seconds() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def minimal_calls(counts: dict[str, dict[str, int]]) -> tuple[int, int]:
    """(data pages, fixed per-run extras): the page minimum, then sweeps, describes and login."""
    hs, sf = counts["hubspot"], counts["salesforce"]
    pages = math.ceil(hs["contacts"] / 200) + math.ceil(hs["deals"] / 200) + math.ceil(hs["deals"] / 1000)
    pages += sum(max(1, math.ceil(sf[o] / 2000)) for o in ("Lead", "Contact", "Account", "Opportunity"))
    extras = 2 + 4 + 1  # two archived sweeps (empty: one list call each), four describes, one OAuth login
    return pages, extras


REPEAT = max(1, int(os.environ.get("BENCH_PULL_REPEAT", "3")))


@dataclass(frozen=True)
class FullPull:
    """One full pull into an empty mirror: its CPU per record in µs, the mirror's part, the kernel's
    part (system time: WAL writes, sockets), wall time, and the speed reference (ms) timed before it."""

    cpu: float
    mirror: float
    system: float
    wall: float
    reference: float


def full_pull(info: SandboxInfo, db: str) -> tuple[FullPull, int, int, Mirror, list[CrmReader]]:
    """(figures, records, API calls incl. the OAuth login, the mirror, its readers)."""
    from connector.mirror.db import open_mirror  # noqa: PLC0415
    from connector.pull import pull_cycle  # noqa: PLC0415

    mirror = open_mirror(f"sqlite:///{db}")
    rs = readers(info)
    reference = reference_ms()
    cpu0, sys0, wall0 = cpu_seconds(), system_seconds(), time.perf_counter()
    stats = pull_cycle(mirror, rs, now=datetime.now(UTC))
    cpu, system, wall = cpu_seconds() - cpu0, system_seconds() - sys0, time.perf_counter() - wall0
    records = sum(s.records for s in stats)
    per = 1e6 / records
    used = sum(r.api_calls for r in rs) + 1  # + the Salesforce OAuth login made at connect
    figures = FullPull(cpu * per, sum(s.mirror_cpu for s in stats) * per, system * per, wall, reference)
    return figures, records, used, mirror, rs


def run_main() -> None:
    """The full pull REPEAT times, each into an empty mirror; CPU is reported as the best run
    (this shared box's speed drifts by up to a third between identical runs) and the median."""
    from connector.pull import pull_cycle  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        proc, info = start_sandboxes(scaled(MAIN), tmp)
        try:
            runs: list[FullPull] = []
            for n in range(REPEAT):
                db = f"{tmp}/mirror{n}.db"
                run, records, used, mirror, rs = full_pull(info, db)
                runs.append(run)
                if n < REPEAT - 1:
                    mirror.close()
                    for leftover in Path(tmp).glob(f"mirror{n}.db*"):
                        leftover.unlink()
            pages, extras = minimal_calls(info["counts"])
            best = min(runs, key=lambda r: r.cpu)
            emit("pull", "records pulled (full)", records, "records")
            emit("pull", "API calls used (full pull)", used, "calls", target=f"minimum {pages + extras}")
            emit("pull", "  of which data pages (minimum)", pages, "calls")
            of = f"best of {REPEAT} runs"
            emit("pull", "connector CPU per record (full pull)", best.cpu, "µs", target="<= 50", note=of)
            emit("pull", "  read side: clients, HTTP, JSON, adapters", best.cpu - best.mirror, "µs", note=of)
            emit("pull", "  mirror upsert (connector/mirror)", best.mirror, "µs", note=of)
            emit("pull", "  of the whole, system time (kernel)", best.system, "µs", note=of)
            median = statistics.median(r.cpu for r in runs)
            emit("pull", "connector CPU per record, median run", median, "µs", note=f"{REPEAT} runs")
            emit("pull", "full pull wall time (sandbox included)", best.wall, "s")
            refs = ", ".join(f"{r.reference:.1f}" for r in runs)
            note = f"all runs: {refs}"
            emit("pull", "machine speed reference before the best run", best.reference, "ms", note=note)
            before = sum(r.api_calls for r in rs)
            stats = pull_cycle(mirror, rs, now=datetime.now(UTC) + timedelta(seconds=1))
            active = [s for s in stats if not s.skipped]
            emit(
                "pull",
                "API calls, cycle with nothing changed",
                sum(r.api_calls for r in rs) - before,
                "calls",
                target=f"{len(active)} (one per stream)",
            )
            mirror.close()
        finally:
            proc.kill()


def run_backfill_child(info_json: str, db: str) -> None:
    """In its own process so ru_maxrss is the backfill's alone."""
    from connector.backfill import backfill  # noqa: PLC0415
    from connector.mirror.db import open_mirror  # noqa: PLC0415

    info: SandboxInfo = json.loads(info_json)
    mirror = open_mirror(f"sqlite:///{db}")
    rs = readers(info)
    base = peak_rss_mb()
    cpu0 = cpu_seconds()
    stats = backfill(
        mirror,
        rs,
        since=NOW - timedelta(days=3650),
        until=datetime.now(UTC),
        progress=False,
    )
    records = sum(s.records for s in stats)
    print(json.dumps({"records": records, "rss": peak_rss_mb(), "base": base, "cpu": cpu_seconds() - cpu0}))


def run_backfill() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, info = start_sandboxes(scaled(BACKFILL), tmp)
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--backfill", json.dumps(info), f"{tmp}/backfill.db"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            proc.kill()
    emit("pull", "backfill records", result["records"], "records")
    emit("pull", "backfill peak RSS", result["rss"], "MB", target="<= 300")
    emit("pull", "backfill CPU per record", result["cpu"] / result["records"] * 1e6, "µs")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve_forever(json.loads(sys.argv[2]), sys.argv[3])
    else:
        from connector.mirror.memstatus import memory_statistics_off

        memory_statistics_off()  # as `revops-sync` does at start-up
        if len(sys.argv) > 1 and sys.argv[1] == "--backfill":
            run_backfill_child(sys.argv[2], sys.argv[3])
        else:
            run_main()
            run_backfill()
