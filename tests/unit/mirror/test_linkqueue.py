"""Identity links queued per page and linked in batches (`linkqueue`): the same people as linking
each page at once, nothing lost while queued, and the sync cycle links before it evaluates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from connector.mirror import Mirror, integrity_check, load_people, upsert_page
from connector.mirror import tables as t
from connector.mirror.linkqueue import LinkBatcher, link_pending, queued_keys
from connector.model import Crm, SourceRecord

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def hs(rid: str, email: str | None, **props: str) -> SourceRecord:
    return SourceRecord(Crm.HUBSPOT, "contacts", rid, {"email": email, **props}, T0)


def sf(kind: str, rid: str, email: str | None, **props: str) -> SourceRecord:
    return SourceRecord(Crm.SALESFORCE, kind, rid, {"Email": email, **props}, T0)


# Pages whose linking depends on what earlier pages linked: an email shared across CRMs, an
# email change (its new email's records join the old person), a HubSpot merge, a lead
# conversion with the contact first, a record without email, a deal.
PAGES: tuple[tuple[SourceRecord, ...], ...] = (
    (hs("1", "a@x.io"), sf("Lead", "00Q1", " A@x.io "), hs("101", "old@x.io")),
    (hs("1", "new@x.io"), hs("102", "main@x.io"), sf("Contact", "003C", "c@x.io")),
    (sf("Lead", "00Q9", "NEW@x.io"), hs("7", None)),
    (hs("102", "main@x.io", hs_merged_object_ids="101;555"),),
    (sf("Lead", "00Q2", "lead@x.io", IsConverted="true", ConvertedContactId="003C"),),
    (SourceRecord(Crm.HUBSPOT, "deals", "d1", {"dealname": "D"}, T0, associations={"contacts": ("1",)}),),
)


def people_state(mirror: Mirror) -> tuple[set[tuple[str | None, ...]], set[tuple[str | None, ...]]]:
    """(identities as (record key, person, email, linked_by), people as (id, email, merged_into))."""
    ids, people = t.IDENTITIES.c, t.PEOPLE.c
    columns = (ids.crm, ids.object_type, ids.record_id, ids.person_id, ids.email, ids.linked_by)
    with mirror.reader() as s:
        identities = {tuple(r) for r in s.execute(select(*columns))}
        who = {tuple(r) for r in s.execute(select(people.person_id, people.email, people.merged_into))}
    return identities, who


def pull_pages(mirror: Mirror, pages: Sequence[Sequence[SourceRecord]], batch: int | None) -> None:
    """Each page in its own transaction, linked at once (`batch` None) or through a LinkBatcher."""
    links = LinkBatcher(batch) if batch is not None else None
    for n, records in enumerate(pages, 1):
        with mirror.transaction() as s:
            result = upsert_page(s, None, records, defer_links=links is not None)
            if links is not None:
                links.after_page(s, result.queued, last=n == len(pages))


@pytest.mark.parametrize("batch", [1, 2, 4, 1000])
def test_batched_links_equal_linking_each_page(mirror: Mirror, db_url: str, batch: int) -> None:
    pull_pages(mirror, PAGES, None)
    expected = people_state(mirror)
    other = db_url.replace("mirror.db", "batched.db")
    from connector.mirror import open_mirror  # noqa: PLC0415 - a second mirror beside the fixture's

    batched = open_mirror(other)
    try:
        pull_pages(batched, PAGES, batch)
        assert people_state(batched) == expected
        with batched.reader() as s:
            assert not queued_keys(s)
            assert integrity_check(s) == []
    finally:
        batched.close()


def test_queued_records_wait_for_their_batch_and_are_not_lost(mirror: Mirror) -> None:
    with mirror.transaction() as s:
        result = upsert_page(s, None, [hs("1", "a@x.io"), sf("Lead", "00Q1", "a@x.io")], defer_links=True)
        LinkBatcher(batch=5).after_page(s, result.queued, last=False)
    assert result.queued == 2
    with mirror.reader() as s:
        assert s.execute(select(func.count()).select_from(t.IDENTITIES)).scalar_one() == 0
        assert queued_keys(s) == {("hubspot", "contacts", "1"), ("salesforce", "Lead", "00Q1")}
        assert integrity_check(s) == []  # waiting is not missing
    assert link_pending(mirror) == 1
    assert link_pending(mirror) == 0  # nothing left: no write transaction
    with mirror.reader() as s:
        assert not queued_keys(s)
        (person,) = list(load_people(s))
    assert {r.record_id for r in person.records} == {"1", "00Q1"}


def test_a_record_not_queued_and_not_linked_is_still_reported(mirror: Mirror) -> None:
    pull_pages(mirror, [[hs("1", "a@x.io")]], None)
    with mirror.transaction() as s:
        s.execute(t.IDENTITIES.delete())
        assert integrity_check(s) == ["records hubspot:contacts:1: no identity"]
