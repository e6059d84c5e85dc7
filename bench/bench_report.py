"""How long the funnel report takes on a large synthetic history (prints figures; not a test).

Run: .venv/bin/python bench/bench_report.py [people]
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta

from connector.model import Stage
from connector.report.compute import FUNNEL, build_report
from connector.report.facts import DealFact, FirstContact, FunnelFacts, RecycleEntry, StageEntry
from connector.report.periods import Period, Window
from connector.report.render_html import render_html

START = datetime(2026, 8, 31, tzinfo=UTC)


def synthetic(people: int, seed: int = 7) -> FunnelFacts:
    rng = random.Random(seed)
    entries: list[StageEntry] = []
    contacts: list[FirstContact] = []
    deals: list[DealFact] = []
    recycles: list[RecycleEntry] = []
    for n in range(people):
        pid = f"p{n}"
        at = START + timedelta(minutes=rng.randrange(12 * 7 * 24 * 60))
        for stage in FUNNEL:
            entries.append(StageEntry(pid, stage, at))
            if stage is Stage.MQL:
                contacts.append(FirstContact(pid, at + timedelta(minutes=rng.expovariate(1 / 300))))
            if stage is Stage.OPPORTUNITY:
                won = rng.random() < 0.25
                closed = at + timedelta(days=rng.randrange(1, 40))
                deals.append(DealFact(f"d{n}", pid, None, rng.randrange(1, 50) * 1000.0, at, closed, won))
            if rng.random() > 0.6:
                if stage is Stage.MQL:
                    recycles.append(RecycleEntry(pid, "mql-no-sql-30d", at + timedelta(days=30)))
                break
            at += timedelta(hours=rng.expovariate(1 / 48))
    return FunnelFacts(tuple(entries), tuple(contacts), tuple(deals), tuple(recycles))


def main() -> None:
    people = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    facts = synthetic(people)
    window = Window(START, START + timedelta(weeks=12))
    t0 = time.perf_counter()
    report = build_report(facts, window, Period.WEEK, target=1_000_000)
    t1 = time.perf_counter()
    html = render_html(report)
    t2 = time.perf_counter()
    print(
        f"people={people} stage_entries={len(facts.stage_entries)} deals={len(facts.deals)} periods=12 weeks"
    )
    print(f"build_report {t1 - t0:.2f}s  render_html {t2 - t1:.3f}s  html {len(html) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
