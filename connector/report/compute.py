"""The funnel report as a pure function: facts + window + period → `Report`.

Definitions (the reader's contract; tests compute each one by hand):
- entered: distinct people whose stage entry falls in the period.
- conversion X → Y: of the people entering X in the period, the share who later (before `until`)
  entered Y or any stage beyond it on the ladder — a cohort rate, so it never exceeds 100%.
- median time in stage: from entering X to the person's next stage entry (people still in X are left out).
- speed to lead: per person's first MQL entry in the window, minutes to the earliest IS contact
  at or after it; shares are over all MQLs (never contacted counts as not in time).
- win rate: won ÷ (won + lost) among deals closed in the period; deal size: mean won amount.
- churn per month: churn entries ÷ customers at period start, scaled to a 30.44-day month.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from connector.model import Stage, ladder_rank
from connector.report.facts import DealFact, FunnelFacts, StageEntry
from connector.report.periods import Period, Window, periods_in
from connector.report.ranges import REFERENCES, Reference, Status

FUNNEL: tuple[Stage, ...] = (Stage.LEAD, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
STEPS: tuple[tuple[Stage, Stage], ...] = tuple(itertools.pairwise(FUNNEL))
MONTH_DAYS = 30.4375
SPEED_BINS: tuple[tuple[str, float | None], ...] = (
    ("≤ 5 min", 5),
    ("5-60 min", 60),
    ("1-4 h", 240),
    ("4-24 h", 1440),
    ("1-3 days", 4320),
    ("> 3 days", None),
)
NOT_CONTACTED = "not contacted"
RANK: dict[Stage, int] = {s: ladder_rank(s) for s in Stage}


@dataclass(frozen=True, slots=True)
class Rate:
    """A ratio that keeps its counts, so a reader can check it."""

    num: int
    den: int

    @property
    def value(self) -> float | None:
        return self.num / self.den if self.den else None


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """One period's funnel (or the whole window's, as the totals row)."""

    label: str
    start: datetime
    end: datetime
    entered: dict[Stage, int]
    conversion: dict[tuple[Stage, Stage], Rate]
    mql_rate: Rate
    mql_to_opportunity: Rate
    median_hours_in_stage: dict[Stage, float | None]
    deals_created: int
    won: int
    lost: int
    win_rate: Rate
    churned: int
    customers_at_start: int
    churn_monthly: float | None
    speed_median_minutes: float | None


@dataclass(frozen=True, slots=True)
class SpeedToLead:
    mqls: int
    contacted: int
    median_minutes: float | None
    within_5_min: Rate
    within_24_h: Rate
    histogram: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class RecycleRow:
    rule_id: str
    recycled: int
    reconverted: int

    @property
    def rate(self) -> Rate:
        return Rate(self.reconverted, self.recycled)


@dataclass(frozen=True, slots=True)
class FieldSales:
    open_by_phase: dict[str, int]  # "1".."5", "unknown"
    won: int
    lost: int
    win_rate: Rate
    avg_deal_size: float | None
    pipeline: float
    open_without_amount: int
    target: float | None
    pipeline_needed: float | None
    coverage: float | None  # pipeline ÷ target
    shortfall: float | None


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    label: str
    value: float | None
    reference: Reference
    status: Status


@dataclass(frozen=True, slots=True)
class Bottleneck:
    key: str
    label: str
    actual: float
    target: float
    revenue_now: float
    revenue_if_fixed: float
    uplift: float
    sentence: str


@dataclass(frozen=True, slots=True)
class Report:
    window: Window
    period: Period
    periods: tuple[PeriodRow, ...]
    totals: PeriodRow
    speed: SpeedToLead
    recycles: tuple[RecycleRow, ...]
    field_sales: FieldSales
    figures: tuple[Figure, ...]
    bottleneck: Bottleneck | None
    history_since: datetime | None  # first stage entry the mirror holds: earlier periods show deals only


class _History:
    """Stage entries (before `until`) indexed by person and by stage, so each period is a few bisects."""

    def __init__(self, facts: FunnelFacts, until: datetime) -> None:
        ordered = sorted((e for e in facts.stage_entries if e.entered_at < until), key=lambda e: e.entered_at)
        self.by_person: dict[str, list[StageEntry]] = defaultdict(list)
        self.by_stage: dict[Stage, list[StageEntry]] = defaultdict(list)
        for e in ordered:
            self.by_person[e.person_id].append(e)
            self.by_stage[e.stage].append(e)
        self.contacts: dict[str, list[datetime]] = defaultdict(list)
        for c in sorted(facts.first_contacts, key=lambda c: c.at):
            if c.at < until:
                self.contacts[c.person_id].append(c.at)
        self._customer_times, self._customer_counts = self._customer_events()
        # person -> (entry times, furthest ladder rank entered from that entry on): `reached` is one bisect
        self._furthest: dict[str, tuple[list[datetime], list[int]]] = {}
        for person, entries in self.by_person.items():
            ranks = list(itertools.accumulate((RANK[e.stage] for e in reversed(entries)), max))[::-1]
            self._furthest[person] = ([e.entered_at for e in entries], ranks)

    def _customer_events(self) -> tuple[list[datetime], list[int]]:
        """Running count of people whose latest stage is customer/evangelist, at each change."""
        events: list[tuple[datetime, int]] = []
        for entries in self.by_person.values():
            inside = False
            for e in entries:
                now = e.stage in {Stage.CUSTOMER, Stage.EVANGELIST}
                if now != inside:
                    events.append((e.entered_at, 1 if now else -1))
                    inside = now
        events.sort(key=lambda ev: ev[0])
        return [at for at, _ in events], list(itertools.accumulate(d for _, d in events))

    def customers_at(self, at: datetime) -> int:
        """Customers just before `at` (the churn rate's base)."""
        i = bisect.bisect_left(self._customer_times, at)
        return self._customer_counts[i - 1] if i else 0

    def first_entries(self, stage: Stage, start: datetime, end: datetime) -> list[StageEntry]:
        """Each person's first entry into `stage` within [start, end)."""
        entries = self.by_stage[stage]
        lo = bisect.bisect_left(entries, start, key=lambda e: e.entered_at)
        hi = bisect.bisect_left(entries, end, key=lambda e: e.entered_at)
        first: dict[str, StageEntry] = {}
        for e in entries[lo:hi]:
            first.setdefault(e.person_id, e)
        return list(first.values())

    def reached(self, person: str, at: datetime, stage: Stage) -> bool:
        """Did the person enter `stage` or beyond on the ladder at or after `at`?"""
        times, best = self._furthest.get(person, ((), ()))
        i = bisect.bisect_left(times, at)
        return i < len(best) and best[i] >= RANK[stage]

    def next_after(self, entry: StageEntry) -> datetime | None:
        for e in self.by_person[entry.person_id]:
            if e.entered_at > entry.entered_at and e.stage != entry.stage:
                return e.entered_at
        return None

    def speed_minutes(self, mqls: Sequence[StageEntry]) -> list[float | None]:
        """Minutes from each MQL entry to the earliest contact at or after it (None: never contacted)."""
        out: list[float | None] = []
        for e in mqls:
            times = self.contacts[e.person_id]
            i = bisect.bisect_left(times, e.entered_at)
            out.append((times[i] - e.entered_at).total_seconds() / 60 if i < len(times) else None)
        return out


def _cohort(hist: _History, cohort: Sequence[StageEntry], to: Stage) -> Rate:
    return Rate(sum(hist.reached(e.person_id, e.entered_at, to) for e in cohort), len(cohort))


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _row(facts: FunnelFacts, hist: _History, label: str, *, start: datetime, end: datetime) -> PeriodRow:
    cohorts = {s: hist.first_entries(s, start, end) for s in FUNNEL}
    medians: dict[Stage, float | None] = {}
    for s, cohort in cohorts.items():
        stays = [
            (n - e.entered_at).total_seconds() / 3600 for e in cohort if (n := hist.next_after(e)) is not None
        ]
        medians[s] = _median(stays)
    closed = [
        d for d in facts.deals if d.won is not None and d.closed_at is not None and start <= d.closed_at < end
    ]
    won = sum(1 for d in closed if d.won)
    churned = len(hist.first_entries(Stage.CHURNED, start, end))
    base = hist.customers_at(start)
    days = (end - start).total_seconds() / 86400
    speeds = [m for m in hist.speed_minutes(cohorts[Stage.MQL]) if m is not None]
    return PeriodRow(
        label=label,
        start=start,
        end=end,
        entered={s: len(c) for s, c in cohorts.items()},
        conversion={(a, b): _cohort(hist, cohorts[a], b) for a, b in STEPS},
        mql_rate=_cohort(hist, cohorts[Stage.LEAD], Stage.MQL),
        mql_to_opportunity=_cohort(hist, cohorts[Stage.MQL], Stage.OPPORTUNITY),
        median_hours_in_stage=medians,
        deals_created=sum(1 for d in facts.deals if start <= d.created_at < end),
        won=won,
        lost=len(closed) - won,
        win_rate=Rate(won, len(closed)),
        churned=churned,
        customers_at_start=base,
        churn_monthly=churned / base * MONTH_DAYS / days if base and days else None,
        speed_median_minutes=_median(speeds),
    )


def _speed(hist: _History, window: Window) -> SpeedToLead:
    mqls = hist.first_entries(Stage.MQL, *window)
    minutes = hist.speed_minutes(mqls)
    done = [m for m in minutes if m is not None]
    counts = dict.fromkeys([b for b, _ in SPEED_BINS] + [NOT_CONTACTED], 0)
    for m in minutes:
        if m is None:
            counts[NOT_CONTACTED] += 1
            continue
        counts[next(b for b, hi in SPEED_BINS if hi is None or m <= hi)] += 1
    return SpeedToLead(
        mqls=len(mqls),
        contacted=len(done),
        median_minutes=_median(done),
        within_5_min=Rate(sum(1 for m in done if m <= 5), len(mqls)),
        within_24_h=Rate(sum(1 for m in done if m <= 1440), len(mqls)),
        histogram=tuple(counts.items()),
    )


def _recycles(facts: FunnelFacts, hist: _History, window: Window) -> tuple[RecycleRow, ...]:
    first: dict[tuple[str, str], datetime] = {}
    for r in sorted(facts.recycles, key=lambda r: r.at):
        if window.since <= r.at < window.until:
            first.setdefault((r.rule_id, r.person_id), r.at)
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (rule, person), at in first.items():
        rows[rule][0] += 1
        rows[rule][1] += any(
            e.entered_at > at and ladder_rank(e.stage) >= ladder_rank(Stage.MQL)
            for e in hist.by_person[person]
        )
    return tuple(RecycleRow(rule, n, k) for rule, (n, k) in sorted(rows.items()))


def _field_sales(
    deals: Sequence[DealFact], totals: PeriodRow, window: Window, target: float | None
) -> FieldSales:
    open_deals = [d for d in deals if d.won is None and d.created_at < window.until]
    phases = {str(p): 0 for p in range(1, 6)} | {"unknown": 0}
    for d in open_deals:
        phases[str(d.phase) if d.phase in range(1, 6) else "unknown"] += 1
    won_amounts = [
        d.amount
        for d in deals
        if d.won
        and d.amount is not None
        and d.closed_at is not None
        and window.since <= d.closed_at < window.until
    ]
    pipeline = sum(d.amount or 0.0 for d in open_deals)
    rate = totals.win_rate.value
    needed = target / rate if target is not None and rate else None
    return FieldSales(
        open_by_phase=phases,
        won=totals.won,
        lost=totals.lost,
        win_rate=totals.win_rate,
        avg_deal_size=statistics.fmean(won_amounts) if won_amounts else None,
        pipeline=pipeline,
        open_without_amount=sum(1 for d in open_deals if d.amount is None),
        target=target,
        pipeline_needed=needed,
        coverage=pipeline / target if target else None,
        shortfall=max(0.0, needed - pipeline) if needed is not None else None,
    )


def figures_of(row: PeriodRow) -> tuple[Figure, ...]:
    """The row's headline figures beside their reference ranges."""
    values = {
        "mql_rate": row.mql_rate.value,
        "mql_to_opportunity": row.mql_to_opportunity.value,
        "win_rate": row.win_rate.value,
        "churn_monthly": row.churn_monthly,
        "speed_to_lead_median": row.speed_median_minutes,
    }
    return tuple(
        Figure(k, REFERENCES[k].label, v, REFERENCES[k], REFERENCES[k].status(v)) for k, v in values.items()
    )


def bottleneck(row: PeriodRow, deal_size: float | None) -> Bottleneck | None:
    """The revenue-chain step whose lift to its reference midpoint adds the most revenue.

    Revenue = leads * MQL rate * MQL->opportunity * win rate * deal size; each step is lifted alone.
    """
    steps: dict[str, float | None] = {
        "mql_rate": row.mql_rate.value,
        "mql_to_opportunity": row.mql_to_opportunity.value,
        "win_rate": row.win_rate.value,
    }
    if any(v is None for v in steps.values()):
        return None
    rates = {k: float(v or 0.0) for k, v in steps.items()}
    size = deal_size or 1.0
    leads = row.entered[Stage.LEAD]

    def revenue(r: dict[str, float]) -> float:
        return leads * r["mql_rate"] * r["mql_to_opportunity"] * r["win_rate"] * size

    now = revenue(rates)
    options: list[tuple[float, float, str]] = []
    for key, actual in rates.items():
        mid = REFERENCES[key].midpoint
        assert mid is not None
        options.append((revenue(rates | {key: mid}) - now, -(actual / mid), key))
    uplift, _, key = max(options)
    ref = REFERENCES[key]
    target = ref.midpoint or 0.0
    unit = "" if deal_size else " (relative units: no won deal sizes yet)"
    if uplift > 0:
        sentence = (
            f"{ref.label} limits revenue most: lifting it from {rates[key]:.0%} to the reference midpoint "
            f"{target:.0%} with the other steps unchanged adds {uplift:,.0f} revenue{unit}, "
            "more than any other step."
        )
    else:
        sentence = f"Every step is at or above its reference midpoint; {ref.label} sits closest to it."
    return Bottleneck(key, ref.label, rates[key], target, now, now + uplift, uplift, sentence)


def build_report(facts: FunnelFacts, window: Window, period: Period, target: float | None = None) -> Report:
    """The whole report; deterministic for given facts and window."""
    hist = _History(facts, window.until)
    rows = tuple(_row(facts, hist, label, start=s, end=e) for label, s, e in periods_in(window, period))
    totals = _row(facts, hist, "total", start=window.since, end=window.until)
    fs = _field_sales(facts.deals, totals, window, target)
    return Report(
        window=window,
        period=period,
        periods=rows,
        totals=totals,
        speed=_speed(hist, window),
        recycles=_recycles(facts, hist, window),
        field_sales=fs,
        figures=figures_of(totals),
        bottleneck=bottleneck(totals, fs.avg_deal_size),
        history_since=min((e.entered_at for e in facts.stage_entries), default=None),
    )
