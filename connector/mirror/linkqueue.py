"""Identity links in batches: the pull queues each page's person records in the page's own
transaction and links them (people, identities, merges) once enough have queued or the stream ends.

Why: person ids are hashes of emails, so a page's new people and identities land on random leaves
of two indexes (people by id, identities by person), and every page's commit wrote each leaf it
touched to the WAL again: 0.84 of a full pull's 1.26 WAL frames per record (bench_pull's world).
Linked 5,000 records at a time, a leaf is written once per batch: 0.52 frames per record in all.

Queued pages are linked in the order they were pulled, each by `link_people` as it would have
been right after its page, in the transaction of the page that fills the batch (or ends the
stream). Linking reads only people and identities, which nothing else writes meanwhile, so the
result is the same, with one difference for the better: a merge's loser record first pulled in a
later page of the same batch gets its `merged_into` (linked page by page, the merge came before
the record and missed it). Until then a queued record has no identity: the sync cycle links what
is queued before it evaluates anyone, a pull before it starts (what a killed process left), and
`integrity_check` does not count a queued record as missing its identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.db import Mirror
from connector.mirror.identity import MergeEdge, Person, RecordKey, link_people
from connector.mirror.sqlutil import chunks, now_utc, prepare

LINK_BATCH = 5000
"""Records queued before the pull links them. Memory: the queued pages' keys and emails; the
batch's dirty index pages (~5 MB at 60,000 people) fit the 32 MiB page cache."""


def queue_links(session: Session, persons: Sequence[Person], edges: Sequence[MergeEdge]) -> int:
    """Queue one page's person records and merge edges; returns how many items were queued."""
    if not persons and not edges:
        return 0
    row = (
        orjson.dumps([(*key, email) for key, email in persons]).decode(),
        orjson.dumps([(*e.loser, *e.survivor, e.kind) for e in edges]).decode(),
        now_utc(),
    )
    prepare(session, _queue_insert).run(session, [row])
    return len(persons) + len(edges)


def _queue_insert() -> tuple[Any, tuple[str, ...]]:
    return t.LINK_QUEUE.insert(), ("persons", "edges", "queued_at")


def _page(persons: str, edges: str) -> tuple[list[Person], list[MergeEdge]]:
    """A queued row back into `link_people`'s arguments (JSON arrays of strings, as written)."""
    people: list[Person] = [((p[0], p[1], p[2]), p[3]) for p in orjson.loads(persons)]
    merges = [MergeEdge((e[0], e[1], e[2]), (e[3], e[4], e[5]), e[6]) for e in orjson.loads(edges)]
    return people, merges


def link_queued(session: Session) -> int:
    """Link every queued page, oldest first, and empty the queue; returns the pages linked."""
    q = t.LINK_QUEUE.c
    rows = session.connection().execute(select(q.seq, q.persons, q.edges).order_by(q.seq)).all()
    for _, persons, edges in rows:
        link_people(session, *_page(persons, edges))
    for part in chunks([seq for seq, _, _ in rows]):  # these rows only: not one a concurrent writer adds
        session.connection().execute(delete(t.LINK_QUEUE).where(q.seq.in_(part)))
    return len(rows)


def queued_keys(session: Session) -> set[RecordKey]:
    """The person records waiting in the queue (not linked yet)."""
    rows = session.connection().execute(select(t.LINK_QUEUE.c.persons)).scalars()
    return {key for persons in rows for key, _ in _page(persons, "[]")[0]}


def link_pending(mirror: Mirror) -> int:
    """Link whatever is queued (a write transaction only when something is); returns the pages."""
    with mirror.reader() as s:
        if s.connection().execute(select(t.LINK_QUEUE.c.seq).limit(1)).first() is None:
            return 0
    with mirror.transaction() as s:
        return link_queued(s)


@dataclass
class LinkBatcher:
    """One stream's count of queued records: `after_page` links the queue inside the page's
    transaction once `LINK_BATCH` records wait, or on the stream's last page."""

    batch: int = LINK_BATCH
    queued: int = 0

    def after_page(self, session: Session, queued: int, *, last: bool) -> None:
        self.queued += queued
        if self.queued and (last or self.queued >= self.batch):
            link_queued(session)
            self.queued = 0
