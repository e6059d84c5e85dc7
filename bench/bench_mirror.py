"""Mirror write/read throughput (target: upsert >= 20,000 records/s).

200,000 realistic records (HubSpot contacts and deals, Salesforce Leads/Contacts, ~70 % sharing an
email so identities link across CRMs) upserted in pages of 100 (HubSpot) / 2,000 (Salesforce)
records, one transaction per page with its cursor. Then the same records again (unchanged: no
version rows), 10 % of them changed, and `load_people` over everyone.
"""

from __future__ import annotations

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

TOTAL = 200_000
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


def _load(url: str, records: list[SourceRecord], kind: str) -> tuple[float, int, int]:
    mirror = open_mirror(url)
    with mirror.transaction() as s:
        run_id = start_run(s, kind)
    started = time.perf_counter()
    versions = unchanged = 0
    for stream, page in _pages(records):
        last = page[-1]
        with mirror.transaction() as s:
            result = upsert_page(
                s, run_id, page, CursorUpdate(stream, last.modified_at.isoformat(), last.record_id)
            )
        versions += result.inserted + result.changed
        unchanged += result.unchanged
    elapsed = time.perf_counter() - started
    with mirror.transaction() as s:
        finish_run(s, run_id, "ok", {"records": len(records)})
    mirror.close()
    return len(records) / elapsed, versions, unchanged


def main() -> None:
    rng = random.Random(7)
    records = _records(rng)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        rate, versions, _ = _load(url, records, "first")
        emit(
            "mirror",
            "upsert_page, first pull (records/s)",
            rate,
            "rec/s",
            target=">= 20,000",
            note=f"{len(records):,} records, {versions:,} version rows",
        )
        rate, versions, unchanged = _load(url, records, "repeat")
        emit(
            "mirror",
            "upsert_page, same records again (records/s)",
            rate,
            "rec/s",
            target=">= 20,000",
            note=f"{versions} version rows, {unchanged:,} unchanged",
        )
        rate, versions, _ = _load(url, _records(random.Random(7), changed=0.1), "changed")
        emit(
            "mirror",
            "upsert_page, ~10% of contacts changed (records/s)",
            rate,
            "rec/s",
            note=f"{versions:,} version rows",
        )
        mirror = open_mirror(url)
        started = time.perf_counter()
        with mirror.reader() as s:
            people = sum(1 for _ in load_people(s))
        elapsed = time.perf_counter() - started
        emit("mirror", "load_people (people/s)", people / elapsed, "people/s", note=f"{people:,} people")
        mirror.close()
    emit("mirror", "peak RSS", peak_rss_mb(), "MB")


if __name__ == "__main__":
    main()
