"""Every figure of the hand-built history, computed by hand (arithmetic in the comments)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connector.model import Stage
from connector.report.compute import NOT_CONTACTED, Rate, Report, build_report
from connector.report.periods import Period, Window, periods_in
from tests.unit.report.history import COOLDOWN_RULE, FACTS, RECYCLE_RULE, WINDOW

L, M, A, Q, OP, C = Stage.LEAD, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(FACTS, WINDOW, Period.WEEK, target=50_000)


def row(report: Report, label: str) -> Any:
    return report.totals if label == "total" else next(r for r in report.periods if r.label == label)


def test_periods_are_the_two_iso_weeks(report: Report) -> None:
    assert [(r.label, r.start.day, r.end.day) for r in report.periods] == [
        ("2026-W45", 2, 9),
        ("2026-W46", 9, 16),
    ]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        # total: leads p1..p6 = 6; MQL p1,p2,p5 = 3 (p2's second MQL is the same person); SAL p1,p5;
        # SQL p1; opportunity p1; customer p1 (Nov 10)
        ("total", {L: 6, M: 3, A: 2, Q: 1, OP: 1, C: 1}),
        # W45: leads p1..p4; MQL p1,p2; SAL/SQL/opp p1; nobody became customer
        ("2026-W45", {L: 4, M: 2, A: 1, Q: 1, OP: 1, C: 0}),
        # W46: leads p5,p6; MQL p5 and p2 (re-converted Nov 11); SAL p5; customer p1
        ("2026-W46", {L: 2, M: 2, A: 1, Q: 0, OP: 0, C: 1}),
    ],
)
def test_people_entering_each_stage(report: Report, label: str, expected: dict[Stage, int]) -> None:
    assert row(report, label).entered == expected


@pytest.mark.parametrize(
    ("label", "step", "num", "den"),
    [
        # lead cohort p1..p6: p1, p2, p5 reached MQL or beyond -> 3/6
        ("total", (L, M), 3, 6),
        # MQL cohort p1, p2, p5: p1 and p5 reached SAL; p2 went recycled then MQL -> 2/3
        ("total", (M, A), 2, 3),
        ("total", (A, Q), 1, 2),  # SAL p1, p5: only p1 reached SQL
        ("total", (Q, OP), 1, 1),
        ("total", (OP, C), 1, 1),
        ("2026-W45", (L, M), 2, 4),  # p1, p2 of p1..p4
        ("2026-W45", (M, A), 1, 2),  # p1 of p1, p2
        ("2026-W45", (OP, C), 1, 1),  # p1's customer entry (Nov 10) is after W45 but before `until`
        ("2026-W46", (L, M), 1, 2),  # p5 of p5, p6
        ("2026-W46", (M, A), 1, 2),  # p5 of p5, p2
        ("2026-W46", (Q, OP), 0, 0),  # no SQL in W46: no rate
    ],
)
def test_stage_to_stage_conversion(
    report: Report, label: str, step: tuple[Stage, Stage], num: int, den: int
) -> None:
    assert row(report, label).conversion[step] == Rate(num, den)


@pytest.mark.parametrize(
    ("label", "mql_rate", "mql_to_opp"),
    [
        ("total", Rate(3, 6), Rate(1, 3)),  # MQL->opportunity: only p1 of p1, p2, p5
        ("2026-W45", Rate(2, 4), Rate(1, 2)),
        ("2026-W46", Rate(1, 2), Rate(0, 2)),
    ],
)
def test_headline_rates(report: Report, label: str, mql_rate: Rate, mql_to_opp: Rate) -> None:
    assert (row(report, label).mql_rate, row(report, label).mql_to_opportunity) == (mql_rate, mql_to_opp)


@pytest.mark.parametrize(
    ("stage", "hours"),
    [
        # lead stays: p1 09->10 = 1, p2 Nov2 09->Nov3 09 = 24, p3 Nov3 09->recycled Nov6 09 = 72, p5 = 1;
        # p4, p6 still leads (left out). median(1, 1, 24, 72) = (1 + 24) / 2 = 12.5
        (L, 12.5),
        (M, 24.0),  # p1 10->12 = 2, p2 Nov3 09->Nov5 09 = 48, p5 Nov9 10->Nov10 10 = 24 -> median 24
        (A, 24.0),  # p1 Nov2 12->Nov3 12; p5 still SAL
        (Q, 24.0),  # p1 Nov3 12->Nov4 12
        (OP, 144.0),  # p1 Nov4 12->Nov10 12 = 6 days
        (C, None),  # nobody left customer
    ],
)
def test_median_time_in_stage(report: Report, stage: Stage, hours: float | None) -> None:
    assert report.totals.median_hours_in_stage[stage] == hours


@pytest.mark.parametrize(
    ("label", "created", "won", "lost", "churned", "base", "churn"),
    [
        # closed in window: d1 won; d2, d3, d4 lost (d8 closed in Oct: outside). Created: d1..d7.
        # customers at Nov 2: c1, c2; c1 churned Nov 12 -> 1/2 over 14 days -> 0.5 * 30.4375 / 14
        ("total", 7, 1, 3, 1, 2, 0.5 * 30.4375 / 14),
        ("2026-W45", 5, 0, 0, 0, 2, 0.0),  # created d1 (Nov 4), d2 (5), d3, d4 (6), d5 (8)
        # W46 base at Nov 9 is still c1, c2 (p1 became customer Nov 10): 0.5 * 30.4375 / 7
        ("2026-W46", 2, 1, 3, 1, 2, 0.5 * 30.4375 / 7),
    ],
)
def test_deals_and_churn_per_period(
    report: Report, label: str, created: int, won: int, lost: int, churned: int, base: int, churn: float
) -> None:
    r = row(report, label)
    assert (r.deals_created, r.won, r.lost, r.churned, r.customers_at_start) == (
        created,
        won,
        lost,
        churned,
        base,
    )
    assert r.churn_monthly == pytest.approx(churn)


def test_speed_to_lead(report: Report) -> None:
    s = report.speed
    # first MQL per person in the window: p1 (3 min), p2 (720 min), p5 (1440 min)
    assert (s.mqls, s.contacted, s.median_minutes) == (3, 3, 720.0)
    assert s.within_5_min == Rate(1, 3)  # p1 only
    assert s.within_24_h == Rate(3, 3)  # 1440 min is exactly 24 h: inside the line
    assert dict(s.histogram) == {
        "≤ 5 min": 1,
        "5-60 min": 0,
        "1-4 h": 0,
        "4-24 h": 2,
        "1-3 days": 0,
        "> 3 days": 0,
        NOT_CONTACTED: 0,
    }
    # per period: W45 median(3, 720) = 361.5; W46: p5 1440, p2's Nov 11 MQL never contacted after
    assert [r.speed_median_minutes for r in report.periods] == [361.5, 1440.0]


def test_recycle_per_rule(report: Report) -> None:
    # p3 (cool-down rule) never came back; p2 (MQL rule) became MQL again on Nov 11
    assert [(r.rule_id, r.recycled, r.reconverted) for r in report.recycles] == [
        (COOLDOWN_RULE, 1, 0),
        (RECYCLE_RULE, 1, 1),
    ]


def test_field_sales(report: Report) -> None:
    fs = report.field_sales
    assert fs.open_by_phase == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 0, "unknown": 1}  # d6, d5, d7
    assert (fs.won, fs.lost, fs.win_rate) == (1, 3, Rate(1, 4))
    assert fs.avg_deal_size == 10_000  # d1 only (d8 won before the window)
    assert (fs.pipeline, fs.open_without_amount) == (28_000, 1)  # d5 20,000 + d6 8,000; d7 has none
    # needed = 50,000 / 0.25 = 200,000; coverage = 28,000 / 50,000; shortfall = 200,000 - 28,000
    assert (fs.pipeline_needed, fs.coverage, fs.shortfall) == (200_000, 0.56, 172_000)


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("mql_rate", 0.5, "high"),  # 3/6 above 10-25%
        ("mql_to_opportunity", 1 / 3, "ok"),  # inside 30-50%
        ("win_rate", 0.25, "ok"),  # inside 15-30%
        ("churn_monthly", 0.5 * 30.4375 / 14, "high"),  # ~109% a month, above 1%
        ("speed_to_lead_median", 720.0, "ok"),  # 12 h, under the 24 h line
    ],
)
def test_figures_flagged_against_reference(report: Report, key: str, value: float, status: str) -> None:
    fig = next(f for f in report.figures if f.key == key)
    assert fig.value == pytest.approx(value)
    assert fig.status == status


def test_bottleneck_is_the_step_whose_lift_adds_most_revenue(report: Report) -> None:
    b = report.bottleneck
    assert b is not None
    # revenue now = 6 leads * 0.5 * 1/3 * 0.25 * 10,000 = 2,500
    # MQL rate to 17.5%: 875 (-1,625); MQL->opp to 40%: 3,000 (+500); win rate to 22.5%: 2,250 (-250)
    assert b.key == "mql_to_opportunity"
    assert [b.revenue_now, b.revenue_if_fixed, b.uplift] == pytest.approx([2500, 3000, 500])
    assert "MQL → opportunity" in b.sentence
    assert "500" in b.sentence


def test_no_bottleneck_without_closed_deals() -> None:
    empty = build_report(FACTS, Window(WINDOW.since, datetime(2026, 11, 9, tzinfo=UTC)), Period.WEEK)
    assert empty.totals.win_rate == Rate(0, 0)
    assert empty.bottleneck is None


@pytest.mark.parametrize(
    ("since", "until", "period", "labels"),
    [
        ((2026, 11, 4), (2026, 11, 10), Period.WEEK, ["2026-W45", "2026-W46"]),
        ((2026, 12, 28), (2027, 1, 5), Period.WEEK, ["2026-W53", "2027-W01"]),
        ((2026, 11, 15), (2027, 1, 2), Period.MONTH, ["2026-11", "2026-12", "2027-01"]),
    ],
)
def test_periods_clip_to_the_window(
    since: tuple[int, int, int], until: tuple[int, int, int], period: Period, labels: list[str]
) -> None:
    window = Window(datetime(*since, tzinfo=UTC), datetime(*until, tzinfo=UTC))
    got = periods_in(window, period)
    assert [label for label, _, _ in got] == labels
    assert got[0][1] == window.since
    assert got[-1][2] == window.until
