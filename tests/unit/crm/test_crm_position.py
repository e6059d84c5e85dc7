"""Cursor positions: the window a cycle reads and the watermark it leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.crm.protocol import Page, ResumeKey, Window
from connector.crm.streams import get_stream
from connector.mirror.cursors import Cursor
from connector.pull import Position, advance, plan_window

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LOOKBACK = timedelta(minutes=10)
CONTACTS = get_stream("hubspot.contacts")
SWEEP = get_stream("hubspot.contacts.archived")


def page(*, last: bool, max_seen: datetime | None, after: str | None = "9") -> Page:
    return Page([], ResumeKey(after, max_seen) if after else None, max_seen, last)


@pytest.mark.parametrize(
    "pos",
    [
        Position(),
        Position(T0),
        Position(T0, Window(T0 - LOOKBACK, T0 + timedelta(hours=1), ResumeKey("00Q'1", T0), T0), T0),
        Position(None, Window(None, T0, None), None),
    ],
)
def test_position_round_trips_through_the_cursor_row(pos: Position) -> None:
    update = pos.encode("s")
    assert Position.decode(Cursor("s", update.value, update.last_id, T0)) == pos


def test_first_cycle_reads_everything_up_to_the_cycle_start() -> None:
    assert plan_window(CONTACTS, Position(), T0, LOOKBACK) == Window(None, T0)


def test_next_cycle_starts_one_lookback_before_the_watermark() -> None:
    w = plan_window(CONTACTS, Position(T0), T0 + timedelta(hours=1), LOOKBACK)
    assert w == Window(T0 - LOOKBACK, T0 + timedelta(hours=1), overlap_until=T0)


def test_an_interrupted_window_is_resumed_unchanged() -> None:
    inflight = Window(T0 - LOOKBACK, T0, ResumeKey("42"))
    assert plan_window(CONTACTS, Position(T0, inflight), T0 + timedelta(hours=5), LOOKBACK) is inflight


@pytest.mark.parametrize(("age", "due"), [(timedelta(minutes=5), False), (timedelta(hours=2), True)])
def test_archived_sweep_runs_only_when_due(age: timedelta, due: bool) -> None:
    window = plan_window(SWEEP, Position(T0 - age), T0, LOOKBACK)
    assert (window is not None) is due


def test_mid_window_pages_keep_the_watermark_and_record_the_resume_key() -> None:
    w = Window(None, T0)
    new = advance(CONTACTS, Position(), w, page(last=False, max_seen=T0 - LOOKBACK), T0 - LOOKBACK)
    assert new == Position(None, Window(None, T0, ResumeKey("9", T0 - LOOKBACK)), T0 - LOOKBACK)


@pytest.mark.parametrize(
    ("old", "max_seen", "expected"),
    [
        (None, T0 - timedelta(minutes=3), T0 - timedelta(minutes=3)),  # server time, not the cycle start
        (T0 - timedelta(hours=1), None, T0 - timedelta(hours=1)),  # nothing seen: unchanged
        (T0 - timedelta(hours=1), T0 + timedelta(minutes=1), T0),  # capped at the window top
        (T0, T0 - timedelta(minutes=5), T0),  # lookback-only page never moves it back
    ],
)
def test_the_last_page_sets_the_watermark(
    old: datetime | None, max_seen: datetime | None, expected: datetime
) -> None:
    new = advance(CONTACTS, Position(old), Window(None, T0), page(last=True, max_seen=max_seen), max_seen)
    assert new == Position(expected)


def test_a_finished_sweep_remembers_when_it_started() -> None:
    new = advance(SWEEP, Position(), Window(None, T0), page(last=True, max_seen=None, after=None), None)
    assert new == Position(T0)
