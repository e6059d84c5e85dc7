"""Backfill: re-read a bounded modification-time range into the mirror without touching live cursors.

Used to repair a gap (an outage longer than the lookback, a mapping that needs older history) or
to seed a new mirror in slices. Pages are upserted in their own transactions like the live pull,
but with no cursor update, so the next cycle continues exactly where the live cursor says; the
mirror only versions changed content, so overlapping a range already mirrored adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from connector.crm.protocol import CrmReader, Window
from connector.crm.streams import get_stream
from connector.errors import ConfigError
from connector.mirror.db import Mirror
from connector.mirror.linkqueue import LinkBatcher
from connector.mirror.records import upsert_page
from connector.mirror.runs import finish_run, start_run
from connector.pull import StreamStats, gc_frozen

log = logging.getLogger(__name__)


def backfill(
    mirror: Mirror,
    readers: Sequence[CrmReader],
    *,
    since: datetime,
    until: datetime,
    streams: Iterable[str] | None = None,
    progress: bool = True,
) -> list[StreamStats]:
    """Re-read `[since, until]` for every (or the named) stream; returns per-stream stats."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ConfigError("backfill: --since/--until must be timezone-aware (UTC)")
    if since >= until:
        raise ConfigError(f"backfill: --since {since.isoformat()} is not before --until {until.isoformat()}")
    wanted = {get_stream(n).name for n in streams} if streams is not None else None
    chosen = [(r, s) for r in readers for s in r.streams if wanted is None or s.name in wanted]
    if wanted is not None and len(chosen) != len(wanted):
        have = {s.name for _, s in chosen}
        raise ConfigError(f"backfill: no configured CRM for stream(s) {', '.join(sorted(wanted - have))}")
    with mirror.transaction() as s:
        run_id = start_run(s, "backfill")
    out: list[StreamStats] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    status, error = "ok", None
    try:
        with gc_frozen(), Progress(*columns, disable=not progress) as bar:
            for reader, stream in chosen:
                stats = StreamStats(stream.name)
                task = bar.add_task(stream.name, total=None)
                calls0 = reader.api_calls
                links = LinkBatcher()
                for page in reader.pull(stream, Window(since, until)):
                    with mirror.transaction() as s:
                        result = upsert_page(s, run_id, page.records, None, defer_links=True)
                        links.after_page(s, result.queued, last=page.last)
                    stats.pages += 1
                    stats.records += len(page.records)
                    stats.inserted += result.inserted
                    stats.changed += result.changed
                    stats.unchanged += result.unchanged
                    stats.skipped_records += page.skipped
                    total = stats.records + page.remaining if page.remaining is not None else None
                    bar.update(task, completed=stats.records, total=stats.records if page.last else total)
                stats.api_calls = reader.api_calls - calls0
                out.append(stats)
    except Exception as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        with mirror.transaction() as s:
            finish_run(s, run_id, status, {"streams": [st.as_dict() for st in out]}, error)
    return out
