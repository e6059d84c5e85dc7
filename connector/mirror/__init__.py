"""The SQLite mirror: tables, migrations and the repositories every other layer uses (see README.md).

Repository functions take a Session and never commit; `Mirror.transaction()` owns the commit.
"""

from connector.mirror.audit import (
    OutboxRow,
    SaveResult,
    StageEntry,
    current_stages,
    decision_key,
    funnel_entries,
    save_decisions,
)
from connector.mirror.cursors import Cursor, all_cursors, get_cursor, set_cursor
from connector.mirror.db import Mirror, create_mirror_engine, open_mirror
from connector.mirror.integrity import integrity_check
from connector.mirror.linkqueue import LinkBatcher, link_pending, link_queued, queued_keys
from connector.mirror.migrations import applied_versions, migrate
from connector.mirror.outbox import (
    Attempt,
    OutboxItem,
    OutboxStatus,
    attempts_for,
    dead_letters,
    get_items,
    mark_failed,
    mark_sent,
    mark_status,
    outbox_counts,
    pending,
    record_attempt,
    requeue,
)
from connector.mirror.people import load_people, resolve_person
from connector.mirror.records import (
    CursorUpdate,
    FlaggedRecord,
    FlagsFor,
    KeyFilter,
    PageResult,
    flagged_records,
    get_records,
    history,
    latest_modified,
    mark_deleted,
    of_records,
    upsert_page,
)
from connector.mirror.runs import RunInfo, finish_run, get_run, recent_runs, start_run
from connector.mirror.timeline import Timeline, TimelineEvent, person_timeline

__all__ = [
    "Attempt",
    "Cursor",
    "CursorUpdate",
    "FlaggedRecord",
    "FlagsFor",
    "KeyFilter",
    "LinkBatcher",
    "Mirror",
    "OutboxItem",
    "OutboxRow",
    "OutboxStatus",
    "PageResult",
    "RunInfo",
    "SaveResult",
    "StageEntry",
    "Timeline",
    "TimelineEvent",
    "all_cursors",
    "applied_versions",
    "attempts_for",
    "create_mirror_engine",
    "current_stages",
    "dead_letters",
    "decision_key",
    "finish_run",
    "flagged_records",
    "funnel_entries",
    "get_cursor",
    "get_items",
    "get_records",
    "get_run",
    "history",
    "integrity_check",
    "latest_modified",
    "link_pending",
    "link_queued",
    "load_people",
    "mark_deleted",
    "mark_failed",
    "mark_sent",
    "mark_status",
    "migrate",
    "of_records",
    "open_mirror",
    "outbox_counts",
    "pending",
    "person_timeline",
    "queued_keys",
    "recent_runs",
    "record_attempt",
    "requeue",
    "resolve_person",
    "save_decisions",
    "set_cursor",
    "start_run",
    "upsert_page",
]
