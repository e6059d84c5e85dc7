"""Pull functions for `run_cycle`: restricted to a job's streams, optionally drawing progress bars.

`run_cycle` takes an injectable pull phase; these wrap `connector.pull.pull_cycle` unchanged (its
per-stream error isolation and cursor commits stay in one place) and only decorate the readers:
`ProgressReader` passes every page through and advances a rich progress bar by its records, using
the CRM's own `remaining` figure as the bar's total.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from collections.abc import Mapping as MappingT
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from connector import mirror as m
from connector.config import DEFAULT_AMBIGUOUS_GRACE
from connector.crm.protocol import CrmReader, Known, Page, Quota, Window
from connector.crm.streams import Stream
from connector.model import Crm
from connector.pull import pull_cycle, readers_for

if TYPE_CHECKING:
    from connector.rules.compiled import Mapping
    from connector.sync import Clients, CycleReport, PullFn


class ProgressReader:
    """A CrmReader that reports each page to a progress bar; everything else is the wrapped reader's."""

    def __init__(self, inner: CrmReader, progress: Progress) -> None:
        self.inner = inner
        self.progress = progress
        self.crm: Crm = inner.crm

    @property
    def streams(self) -> tuple[Stream, ...]:
        return self.inner.streams

    @property
    def api_calls(self) -> int:
        return self.inner.api_calls

    def quota(self) -> Quota:
        return self.inner.quota()

    def pull(self, stream: Stream, window: Window, known: Known | None = None) -> Iterator[Page]:
        task: TaskID = self.progress.add_task(stream.name, total=None)
        done = 0
        for page in self.inner.pull(stream, window, known):
            done += len(page.records)
            total = done + page.remaining if page.remaining is not None else None
            self.progress.update(task, completed=done, total=total if not page.last else done)
            yield page
        self.progress.update(task, total=done, completed=done)


def job_pull(streams: Sequence[str] | None, progress: Progress | None = None) -> PullFn:
    """The pull phase for `run_cycle`: only `streams` (None: all), with bars when `progress` is given."""

    def pull(
        clients: Clients, mirror: m.Mirror, now: datetime, stop: threading.Event | None
    ) -> dict[str, int]:
        readers: list[CrmReader] = readers_for(clients.hubspot, clients.salesforce)
        if progress is not None:
            readers = [ProgressReader(r, progress) for r in readers]
        stats = pull_cycle(mirror, readers, now=now, streams=streams, stop=stop)
        return {s.stream: s.records for s in stats}

    return pull


def run_with_progress(
    console: Console,
    clients: Clients,
    mirror: m.Mirror,
    mapping: Mapping,
    *,
    streams: Sequence[str] | None = None,
    push: bool = True,
    now: datetime | None = None,
    ambiguous_grace: timedelta = DEFAULT_AMBIGUOUS_GRACE,
) -> CycleReport:
    """One cycle with a bar per stream while pulling, then a status line while judging and pushing."""
    from connector.sync import run_cycle  # noqa: PLC0415 - sync imports this module's callers

    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        phase = progress.add_task("evaluate + push", total=1, start=False, visible=False)
        pull = job_pull(streams, progress)

        def pull_then_mark(
            c: Clients, mi: m.Mirror, at: datetime, stop: threading.Event | None
        ) -> MappingT[str, int]:
            pulled = pull(c, mi, at, stop)
            progress.update(phase, visible=True)
            progress.start_task(phase)
            return pulled

        report = run_cycle(
            clients, mirror, mapping, now, push=push, pull_fn=pull_then_mark, ambiguous_grace=ambiguous_grace
        )
        progress.update(phase, completed=1)
    return report
