"""Jobs files: the shipped default is valid, and every kind of mistake is reported with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.crm.streams import STREAMS, get_stream
from connector.daemon.service import unpulled_fields
from connector.jobs import JobsError, load_jobs, parse_interval
from connector.rules.loader import DEFAULT_MAPPING, load_mapping

REPO = Path(__file__).resolve().parents[3]


def test_default_jobs_file_is_valid_and_points_at_existing_mappings() -> None:
    jobs = load_jobs(REPO / "jobs" / "default.yaml", base=REPO)
    job = jobs.jobs[0]
    assert job.interval is not None
    assert job.interval.total_seconds() == 300
    assert job.grace_seconds == 120
    assert all((REPO / m).is_file() for m in job.mappings)


GOOD = """version: 1
jobs:
  - id: funnel
    streams: [hubspot.contacts, salesforce.leads]
    every: 5m
    mappings: [m.yaml]
"""


@pytest.mark.parametrize(
    ("old", "new", "place", "words"),
    [
        ("every: 5m", "every: 5x", "5:12", "pattern"),
        ("every: 5m", 'cron: "99 * * * *"', "5:11", "crontab"),
        ("every: 5m", "every: 5m\n    cron: '* * * * *'", "3:5", "exactly one"),
        (
            "salesforce.leads]",
            "salesforce.leads, pipedrive.people]",
            "4:14",
            "unknown stream(s) pipedrive.people",
        ),
        ("mappings: [m.yaml]", "mappings: [m.yaml]\n    bogus: true", "7:12", "Extra inputs"),
        ("mappings: [m.yaml]", "mappings: [m.yaml]\n    crms: [hubspot]", "3:5", "not listed in 'crms'"),
        ("mappings: [m.yaml]", "mappings: [missing.yaml]", "6:16", "not found"),
        ("id: funnel", "id: Funnel!", "3:9", "pattern"),
        ("every: 5m", "every: !!python/object/apply:os.system [ls]", "5:12", "not allowed"),
    ],
)
def test_errors_carry_path_line_col(tmp_path: Path, old: str, new: str, place: str, words: str) -> None:
    (tmp_path / "m.yaml").write_text("x: 1\n")
    path = tmp_path / "jobs.yaml"
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(JobsError) as info:
        load_jobs(path, base=tmp_path)
    problems = info.value.problems
    assert any(p.startswith(f"{path}:{place}:") and words in p for p in problems), problems


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(GOOD.replace("every: 5m", "every: 5x").replace("id: funnel", "id: Bad!"))
    with pytest.raises(JobsError) as info:
        load_jobs(path, check_files=False)
    assert len(info.value.problems) == 2


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400)])
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text).total_seconds() == seconds


@pytest.mark.parametrize("stream", ["hubspot.contacts", "salesforce.leads"])
def test_mapping_fields_no_stream_pulls_are_named(stream: str) -> None:
    spec = get_stream(stream)
    gaps = unpulled_fields(load_mapping(DEFAULT_MAPPING), [stream])
    assert all(f" {spec.crm.value} {spec.object}." in gap for gap in gaps)
    assert not any(gap.endswith(f".{prop}") for gap in gaps for prop in spec.properties)
    assert unpulled_fields(load_mapping(DEFAULT_MAPPING), []) == []


def test_default_streams_pull_every_field_the_default_mapping_reads() -> None:
    """A gap here means a rule that can never fire (churn did, until the streams pulled its date)."""
    assert unpulled_fields(load_mapping(DEFAULT_MAPPING), [s.name for s in STREAMS]) == []
