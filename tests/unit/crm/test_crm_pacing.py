"""The pacer: never more than `rate` starts in a rolling window, and no wait it does not need."""

from __future__ import annotations

import pytest

from connector.crm.pacing import Pacer


class FakeTime:
    """A clock that only moves when the pacer sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(rate: int, window: float = 1.0, margin: float = 0.0) -> tuple[Pacer, FakeTime]:
    t = FakeTime()
    return Pacer(rate, window, margin=margin, clock=t.clock, sleep=t.sleep), t


@pytest.mark.parametrize(("rate", "calls"), [(5, 5), (5, 12), (1, 4), (3, 30)])
def test_no_window_holds_more_than_rate_starts(rate: int, calls: int) -> None:
    p, t = pacer(rate)
    starts = []
    for _ in range(calls):
        p.wait()
        starts.append(t.now)
    for i, start in enumerate(starts):
        in_window = [s for s in starts[i:] if s < start + 1.0]
        assert len(in_window) <= rate
    assert t.now - 100.0 == pytest.approx(max(0, (calls - 1) // rate))  # and no slower than that


def test_calls_already_spread_out_never_wait() -> None:
    p, t = pacer(5)
    for _ in range(20):
        assert p.wait() == 0.0
        t.now += 0.2
    assert t.slept == []


def test_margin_widens_the_window() -> None:
    p, _ = pacer(2, window=1.0, margin=0.1)
    p.wait()
    p.wait()
    assert p.wait() == pytest.approx(1.1)


@pytest.mark.parametrize(("rate", "window"), [(0, 1.0), (5, 0.0), (-1, 1.0)])
def test_nonsense_settings_are_refused(rate: int, window: float) -> None:
    with pytest.raises(ValueError, match="rate >= 1"):
        Pacer(rate, window)
