"""A small hand-built history (two ISO weeks) whose every figure the tests compute by hand.

Window [Mon 2026-11-02, Mon 2026-11-16): W45 = Nov 2-8, W46 = Nov 9-15.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connector.model import Stage
from connector.report.facts import DealFact, FirstContact, FunnelFacts, RecycleEntry, StageEntry
from connector.report.periods import Window

WINDOW = Window(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))
RECYCLE_RULE = "mql-no-sql-30d"
COOLDOWN_RULE = "lost-deal-cooldown-90d"


def at(day: int, hour: int = 9, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


E = StageEntry
ENTRIES = (
    # p1 walks the whole ladder
    E("p1", Stage.LEAD, at(2, 9)),
    E("p1", Stage.MQL, at(2, 10)),
    E("p1", Stage.SAL, at(2, 12)),
    E("p1", Stage.SQL, at(3, 12)),
    E("p1", Stage.OPPORTUNITY, at(4, 12)),
    E("p1", Stage.CUSTOMER, at(10, 12)),
    # p2: MQL, recycled, MQL again in W46 (re-converted)
    E("p2", Stage.LEAD, at(2, 9)),
    E("p2", Stage.MQL, at(3, 9)),
    E("p2", Stage.RECYCLED, at(5, 9), RECYCLE_RULE),
    E("p2", Stage.MQL, at(11, 9)),
    # p3: lead, recycled (never back); p4: lead only
    E("p3", Stage.LEAD, at(3, 9)),
    E("p3", Stage.RECYCLED, at(6, 9), COOLDOWN_RULE),
    E("p4", Stage.LEAD, at(4, 9)),
    # W46 arrivals
    E("p5", Stage.LEAD, at(9, 9)),
    E("p5", Stage.MQL, at(9, 10)),
    E("p5", Stage.SAL, at(10, 10)),
    E("p6", Stage.LEAD, at(10, 9)),
    # customers before the window; c1 churns in W46
    E("c1", Stage.CUSTOMER, at(20, month=10)),
    E("c1", Stage.CHURNED, at(12, 9)),
    E("c2", Stage.CUSTOMER, at(21, month=10)),
)
CONTACTS = (
    FirstContact("p1", at(2, 10, 3)),  # 3 min after MQL
    FirstContact("p2", at(3, 21)),  # 12 h = 720 min after MQL
    FirstContact("p5", at(10, 10)),  # SAL entry: 24 h = 1440 min after MQL
)


def deal(
    n: int,
    created: datetime,
    *,
    phase: int | None = None,
    amount: float | None = None,
    closed: datetime | None = None,
    won: bool | None = None,
) -> DealFact:
    return DealFact(f"d{n}", "p1", phase, amount, created, closed, won)


DEALS = (
    deal(1, at(4, 12), amount=10_000, closed=at(10, 12), won=True),
    deal(2, at(5), amount=5_000, closed=at(12), won=False),
    deal(3, at(6), amount=2_000, closed=at(13), won=False),
    deal(4, at(6), amount=None, closed=at(14), won=False),
    deal(5, at(8), phase=3, amount=20_000),
    deal(6, at(12), phase=1, amount=8_000),
    deal(7, at(13), phase=None, amount=None),
    deal(8, at(1, month=10), amount=99_999, closed=at(30, month=10), won=True),  # before the window
)
RECYCLES = (
    RecycleEntry("p2", RECYCLE_RULE, at(5, 9)),
    RecycleEntry("p3", COOLDOWN_RULE, at(6, 9)),
)
FACTS = FunnelFacts(ENTRIES, CONTACTS, DEALS, RECYCLES)
