"""What the daemon runs and when: jobs files are validated data, like mappings.

A jobs file names, per job, the streams to pull, the schedule (`every: 5m` or a crontab line),
the mapping files to judge with, and the CRMs it may touch. It is read with the same hostile-input
-proof YAML reader as mappings (`connector.rules.yamlsafe`) and every error is reported at once
with its `path:line:col`, so a bad schedule never reaches APScheduler.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connector.crm.streams import STREAMS, get_stream
from connector.model import Crm
from connector.rules.yamlsafe import Document, Mark, YamlError, read

INTERVAL_PATTERN = r"^[0-9]{1,6}(s|m|h|d)$"
Interval = Annotated[str, Field(pattern=INTERVAL_PATTERN, description="e.g. 30s, 5m, 1h, 1d")]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> timedelta:
    """`5m` -> 5 minutes (the pattern has already been checked)."""
    match = re.fullmatch(INTERVAL_PATTERN, text)
    if match is None:
        raise ValueError(f"bad interval {text!r}: use e.g. 30s, 5m, 1h")
    return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Job(_Model):
    """One scheduled sync: streams pulled, rules applied, writes pushed, on one schedule."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    description: str = ""
    streams: tuple[str, ...] = Field(min_length=1)
    every: Interval | None = None
    cron: str | None = None
    mappings: tuple[str, ...] = Field(min_length=1)
    crms: tuple[Crm, ...] = (Crm.HUBSPOT, Crm.SALESFORCE)
    push: bool = True
    misfire_grace_time: Interval = "60s"
    # Everyone is re-evaluated at least this often even if nothing of theirs changed: a safety
    # net under the cycle's selection of changed people and due timers (see connector/sync.py).
    full_sweep_every: Interval = "6h"
    timezone: Literal["UTC"] = "UTC"

    @field_validator("streams")
    @classmethod
    def _known_streams(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = [s.name for s in STREAMS]
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown stream(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronTrigger.from_crontab(value, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"bad crontab line {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> Job:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' (e.g. 5m) or 'cron' (e.g. '*/5 * * * *')")
        for stream in self.streams:
            if get_stream(stream).crm not in self.crms:
                raise ValueError(f"stream {stream!r} belongs to a CRM not listed in 'crms'")
        return self

    @property
    def interval(self) -> timedelta | None:
        return parse_interval(self.every) if self.every else None

    @property
    def sweep_every(self) -> timedelta:
        return parse_interval(self.full_sweep_every)

    @property
    def grace_seconds(self) -> int:
        return int(parse_interval(self.misfire_grace_time).total_seconds())


class JobsFile(_Model):
    version: Literal[1] = 1
    jobs: tuple[Job, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> JobsFile:
        if not self.jobs:
            raise ValueError("list at least one job")
        seen: set[str] = set()
        for job in self.jobs:
            if job.id in seen:
                raise ValueError(f"duplicate job id {job.id!r}")
            seen.add(job.id)
        return self


class JobsError(Exception):
    """Every problem in a jobs file, each line `path:line:col: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _place(doc: Document, loc: tuple[str | int, ...]) -> Mark:
    """The closest mark for a pydantic error location: the key if it is absent, else its value."""
    path = tuple(loc)
    while path:
        if path in doc.values:
            return doc.values[path]
        if path in doc.keys:
            return doc.keys[path]
        path = path[:-1]
    return doc.values.get((), Mark(doc.file, 1, 1))


def load_jobs(path: Path, *, base: Path | None = None, check_files: bool = True) -> JobsFile:
    """Read and validate a jobs file; raise JobsError listing every problem with its place.

    Mapping paths are resolved against `base` (the working directory by default) and, with
    `check_files`, must exist — a job pointing at a missing mapping is a config error at load.
    """
    try:
        doc = read(path)
    except YamlError as exc:
        raise JobsError([str(exc)]) from None
    try:
        jobs = JobsFile.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            problems.append(f"{_place(doc, loc)}: {'.'.join(map(str, loc)) or 'file'}: {_message(err)}")
        raise JobsError(problems) from None
    if check_files:
        root = base or Path.cwd()
        problems = [
            f"{doc.values[('jobs', i, 'mappings', j)]}: mapping file not found: {name}"
            for i, job in enumerate(jobs.jobs)
            for j, name in enumerate(job.mappings)
            if not (root / name).is_file()
        ]
        if problems:
            raise JobsError(problems)
    return jobs


def _message(err: Any) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")
