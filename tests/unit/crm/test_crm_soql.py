"""SOQL building: values escaped by format_soql, identifiers proven by describe, UTC Z literals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connector.crm.protocol import ResumeKey, Window
from connector.crm.soql import changes_query, checked_fields, soql_datetime
from connector.errors import ConfigError

HI = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "literal"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "2026-01-02T03:04:05.123Z"),
        # a non-UTC offset is converted, never sent as +hh:mm (the '+' decodes to a space)
        (datetime(2026, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=9))), "2026-01-02T03:00:00Z"),
    ],
)
def test_datetime_literals_are_utc_z(at: datetime, literal: str) -> None:
    assert soql_datetime(at) == literal


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        soql_datetime(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_fields_are_checked_against_describe_and_case_normalised() -> None:
    assert checked_fields("Lead", ["id", "Email"], ["Id", "Email", "Name"]) == ("Id", "Email")


@pytest.mark.parametrize(
    "bad",
    ["Nope__c", "Email, (SELECT Id FROM Contact)", "Email FROM Lead --", "x' OR Name!=null"],
)
def test_unknown_or_hostile_field_names_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="fields not in describe"):
        checked_fields("Lead", ["Id", bad], ["Id", "Email", "Name"])


def test_hostile_object_name_is_refused() -> None:
    with pytest.raises(ConfigError):
        checked_fields("Lead WHERE", ["Id"], ["Id"])


def test_resume_value_is_escaped_not_spliced() -> None:
    window = Window(None, HI, ResumeKey("x' OR Name!=null", HI - timedelta(days=1)))
    soql = changes_query("Lead", ("Id", "Email"), "SystemModstamp", window)
    assert "Id > 'x\\' OR Name!=null'" in soql
    assert soql.endswith("ORDER BY SystemModstamp ASC, Id ASC")


@pytest.mark.parametrize(
    ("window", "where"),
    [
        (Window(None, HI), "WHERE SystemModstamp <= 2026-11-23T10:00:00Z ORDER"),
        (
            Window(HI - timedelta(hours=1), HI),
            "WHERE SystemModstamp <= 2026-11-23T10:00:00Z AND SystemModstamp >= 2026-11-23T09:00:00Z ORDER",
        ),
        (
            Window(HI - timedelta(hours=1), HI, ResumeKey("00Q1", HI - timedelta(minutes=5))),
            (
                "WHERE SystemModstamp <= 2026-11-23T10:00:00Z AND (SystemModstamp > 2026-11-23T09:55:00Z OR "
                "(SystemModstamp = 2026-11-23T09:55:00Z AND Id > '00Q1')) ORDER"
            ),
        ),
    ],
)
def test_window_and_compound_cursor(window: Window, where: str) -> None:
    assert where in changes_query("Lead", ("Id",), "SystemModstamp", window)


def test_optional_fields_are_taken_only_where_the_org_has_them() -> None:
    got = checked_fields(
        "Lead", ["Id"], ["Id", "Lead_Score__c"], optional=["lead_score__c", "MasterRecordId"]
    )
    assert got == ("Id", "Lead_Score__c")
