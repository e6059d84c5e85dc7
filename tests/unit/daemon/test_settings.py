"""Settings come from the environment, a .env file and *_FILE secret files, in that order of weight."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from connector.config import AMBIGUOUS_GRACE_ENV, Secret, Settings
from connector.errors import ConfigError


def test_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nexport REVOPS_DATABASE_URL='sqlite:///from-file.db'\nREVOPS_JOBS=jobs/file.yaml\n\n"
    )
    settings = Settings.from_env({"REVOPS_JOBS": "jobs/env.yaml"}, env_file=env_file)
    assert settings.database_url == "sqlite:///from-file.db"
    assert settings.jobs == "jobs/env.yaml"


@pytest.mark.parametrize(
    ("variable", "read"),
    [
        ("HUBSPOT_ACCESS_TOKEN", lambda s: s.hubspot.access_token),
        ("HUBSPOT_REFRESH_TOKEN", lambda s: s.hubspot.refresh_token),
        ("HUBSPOT_CLIENT_SECRET", lambda s: s.hubspot.client_secret),
        ("SALESFORCE_CLIENT_SECRET", lambda s: s.salesforce.client_secret),
        ("SALESFORCE_REFRESH_TOKEN", lambda s: s.salesforce.refresh_token),
        ("SALESFORCE_PASSWORD", lambda s: s.salesforce.password),
        ("SALESFORCE_SECURITY_TOKEN", lambda s: s.salesforce.security_token),
    ],
)
def test_every_credential_can_come_from_a_secret_file(
    tmp_path: Path, variable: str, read: Callable[[Settings], object]
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cr3t-value-from-a-mounted-file\n")
    settings = Settings.from_env({f"{variable}_FILE": str(secret_file)})
    value = read(settings)
    assert isinstance(value, Secret)
    assert value.reveal() == "s3cr3t-value-from-a-mounted-file"
    assert "s3cr3t" not in repr(settings)  # a stray log of the settings shows no credential


def test_lists_and_flags(tmp_path: Path) -> None:
    settings = Settings.from_env({"REVOPS_MAPPINGS": "a.yaml,b.yaml", "REVOPS_LOG_JSON": "true"})
    assert settings.mappings == ("a.yaml", "b.yaml")
    assert settings.log_json


def test_a_malformed_env_file_names_its_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GOOD=1\nthis is not a pair\n")
    with pytest.raises(ValueError, match=rf"{env_file}:2: expected KEY=VALUE"):
        Settings.from_env({}, env_file=env_file)


@pytest.mark.parametrize(("raw", "rate"), [(None, 5), ("", 5), ("0", 0), ("9", 9)])
def test_hubspot_search_rate(raw: str | None, rate: int) -> None:
    env = {} if raw is None else {"HUBSPOT_SEARCH_RATE": raw}
    assert Settings.from_env(env).hubspot.search_rate == rate


@pytest.mark.parametrize("raw", ["fast", "-1", "2.5"])
def test_a_bad_search_rate_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"HUBSPOT_SEARCH_RATE: expected a whole number >= 0, got '{raw}'"):
        Settings.from_env({"HUBSPOT_SEARCH_RATE": raw})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, timedelta(minutes=2)),
        ("", timedelta(minutes=2)),
        ("0", timedelta(0)),
        (" 30.5 ", timedelta(seconds=30.5)),
    ],
)
def test_ambiguous_grace(raw: str | None, expected: timedelta) -> None:
    env = {} if raw is None else {AMBIGUOUS_GRACE_ENV: raw}
    assert Settings.from_env(env).ambiguous_grace == expected


def test_ambiguous_grace_from_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"{AMBIGUOUS_GRACE_ENV}=45\n")
    assert Settings.from_env({}, env_file=env_file).ambiguous_grace == timedelta(seconds=45)


@pytest.mark.parametrize("raw", ["-1", "2m", "inf", "nan"])
def test_a_bad_ambiguous_grace_names_the_variable(raw: str) -> None:
    expected = rf"{AMBIGUOUS_GRACE_ENV}='{raw}': use a number of seconds, 0 or more \(default 120\)"
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env({AMBIGUOUS_GRACE_ENV: raw})
