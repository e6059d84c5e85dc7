"""iso_text, the cheaper isoformat provenance uses, writes exactly what isoformat writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.rules.fields import input_value, iso_text


class _Stamp(datetime):
    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "custom"


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 1, 9, 3, 4, 5, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # a year isoformat pads
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 0, 0, 1, tzinfo=UTC),  # microseconds
        datetime(2026, 6, 1, 12, 0),  # noqa: DTZ001 - naive times are a case too
        datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(0), "Z")),  # UTC offset, not UTC
        datetime(2026, 6, 1, 12, 0, fold=1, tzinfo=UTC),
    ],
)
def test_iso_text_is_isoformat(value: datetime) -> None:
    assert iso_text(value) == value.isoformat()
    assert input_value(value) == value.isoformat()


def test_a_subclass_formats_itself() -> None:
    assert iso_text(_Stamp(2026, 6, 1, tzinfo=UTC)) == "custom"


@given(
    st.datetimes(timezones=st.sampled_from([UTC, None, timezone(timedelta(minutes=-330))]))
    | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))
)
def test_iso_text_is_isoformat_for_any_time(value: datetime) -> None:
    assert iso_text(value) == value.isoformat()
