"""The ambiguous-write grace comes from REVOPS_AMBIGUOUS_GRACE_SECONDS; a bad value names the variable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.errors import ConfigError
from connector.push.relay import GRACE_ENV, grace_from_env


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, timedelta(minutes=2)),
        ("", timedelta(minutes=2)),
        ("0", timedelta(0)),
        (" 30.5 ", timedelta(seconds=30.5)),
    ],
)
def test_grace_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: timedelta
) -> None:
    if raw is None:
        monkeypatch.delenv(GRACE_ENV, raising=False)
    else:
        monkeypatch.setenv(GRACE_ENV, raw)
    assert grace_from_env() == expected


@pytest.mark.parametrize("raw", ["-1", "2m", "inf", "nan"])
def test_bad_grace_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(GRACE_ENV, raw)
    with pytest.raises(ConfigError, match=GRACE_ENV):
        grace_from_env()
