"""Mirror write/read throughput (target: upsert >= 20,000 records/s).

200,000 realistic records (HubSpot contacts and deals, Salesforce Leads/Contacts, ~70 % sharing an
email so identities link across CRMs) upserted in pages of 100 (HubSpot) / 2,000 (Salesforce)
records, one transaction per page with its cursor. Then the same records again (unchanged: no
version rows), 10 % of them changed, and `load_people` over everyone. Wall rates depend on the
machine's load; CPU µs/record (process time, SQLite included) is the steadier figure.
BENCH_MIRROR_RECORDS=20000 gives a quick look.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._report import emit, peak_rss_mb
from connector.mirror import CursorUpdate, finish_run, load_people, open_mirror, start_run, upsert_page
from connector.model import Crm, SourceRecord

TOTAL = int(os.environ.get("BENCH_MIRROR_RECORDS", "200000"))  # smaller for a quick look
PAGES = {Crm.HUBSPOT: 100, Crm.SALESFORCE: 2000}
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _records(rng: random.Random, changed: float = 0.0) -> list[SourceRecord]:
    out: list[SourceRecord] = []
    people = TOTAL // 4
    for i in range(people):
        email = f"Person{i}@Example.com " if i % 10 else ""
        when = BASE + timedelta(seconds=i)
        stage = rng.choice(["lead", "marketingqualifiedlead", "salesqualifiedlead", "customer"])
        if rng.random() < changed:
            stage = "opportunity"
        out.append(
            SourceRecord(
                Crm.HUBSPOT,
                "contacts",
                str(100000 + i),
                {
                    "email": email,
                    "firstname": f"First{i}",
                    "lastname": f"Last{i}",
                    "lifecyclestage": stage,
                    "hs_lead_status": "OPEN",
                    "hubspotscore": str(i % 100),
                    "company": f"Company {i % 997}",
                    "lastmodifieddate": when.isoformat(),
                },
                when,
            )
        )
        out.append(
            SourceRecord(
                Crm.HUBSPOT,
                "deals",
                str(500000 + i),
                {"dealname": f"Deal {i}", "dealstage": "appointmentscheduled", "amount": str(i * 10)},
                when,
                associations={"contacts": (str(100000 + i),)},
            )
        )
        sf_type = "Lead" if i % 3 else "Contact"
        out.append(
            SourceRecord(
                Crm.SALESFORCE,
                sf_type,
                f"00Q{i:012d}",
                {
                    "Email": email.lower() if i % 7 else f"other{i}@example.com",
                    "Status": "Open",
                    "LastName": "x",
                },
                when,
            )
        )
        out.append(
            SourceRecord(
                Crm.SALESFORCE,
                "Opportunity",
                f"006{i:012d}",
                {"Name": f"Opp {i}", "StageName": "Prospecting", "ContactId": f"00Q{i:012d}"},
                when,
            )
        )
    return out


def _pages(records: list[SourceRecord]) -> Iterator[tuple[str, list[SourceRecord]]]:
    by_stream: dict[tuple[Crm, str], list[SourceRecord]] = {}
    for r in records:
        by_stream.setdefault((r.crm, r.object_type), []).append(r)
    for (crm, object_type), rows in by_stream.items():
        size = PAGES[crm]
        for start in range(0, len(rows), size):
            yield f"{crm.value}.{object_type}", rows[start : start + size]


def _load(url: str, records: list[SourceRecord], kind: str) -> tuple[float, float, int, int]:
    """(records/s wall, CPU µs/record, version rows, unchanged rows) for one pass over `records`."""
    mirror = open_mirror(url)
    with mirror.transaction() as s:
        run_id = start_run(s, kind)
    started, cpu = time.perf_counter(), time.process_time()
    versions = unchanged = 0
    for stream, page in _pages(records):
        last = page[-1]
        with mirror.transaction() as s:
            result = upsert_page(
                s, run_id, page, CursorUpdate(stream, last.modified_at.isoformat(), last.record_id)
            )
        versions += result.inserted + result.changed
        unchanged += result.unchanged
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with mirror.transaction() as s:
        finish_run(s, run_id, "ok", {"records": len(records)})
    mirror.close()
    return len(records) / elapsed, cpu / len(records) * 1e6, versions, unchanged


_PASSES = (
    ("first pull", "first", 0.0, ">= 20,000"),
    ("same records again", "repeat", 0.0, ">= 20,000"),
    ("~10% of contacts changed", "changed", 0.1, ""),
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        for label, kind, changed, target in _PASSES:
            records = _records(random.Random(7), changed=changed)
            rate, cpu, versions, unchanged = _load(url, records, kind)
            note = f"{len(records):,} records, {versions:,} version rows, {unchanged:,} unchanged"
            emit("mirror", f"upsert_page, {label} (records/s)", rate, "rec/s", target=target, note=note)
            emit("mirror", f"upsert_page, {label} (CPU/record)", cpu, "µs", target="<= 50")
            del records
        mirror = open_mirror(url)
        started = time.perf_counter()
        with mirror.reader() as s:
            people = sum(1 for _ in load_people(s))
        elapsed = time.perf_counter() - started
        note = f"{people:,} people in {elapsed:.1f} s"
        emit("mirror", "load_people (people/s)", people / elapsed, "people/s", target=">= 5,000", note=note)
        mirror.close()
    emit("mirror", "peak RSS", peak_rss_mb(), "MB", target="<= 300")


if __name__ == "__main__":
    from connector.mirror.memstatus import memory_statistics_off

    memory_statistics_off()  # as `revops-sync` does at start-up
    main()
