"""Paging re-anchored on hs_object_id (the connector's shape) through the real client.

Every page is a new filter, which the sandbox answers by bisecting a cached, id-ordered match list
when it can: these tests pin that the answers (ids, order, exact `total`) equal the store's truth
whichever path serves them, and that the cache never serves stale hits after a write or once a
delayed snapshot becomes searchable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hubspot.crm.contacts import PublicObjectSearchRequest

from connector.sandbox.hubspot.schema import sortable

Props = dict[str, Any]
ID_ASC = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]


def _id(op: str, anchor: str) -> dict[str, str]:
    return {"propertyName": "hs_object_id", "operator": op, "value": anchor}


def _score(p: Props) -> float | None:
    value = sortable("hubspotscore", p.get("hubspotscore"))
    return value if isinstance(value, float) else None


def _modified(p: Props) -> float:
    value = sortable("lastmodifieddate", p.get("lastmodifieddate"))
    assert isinstance(value, float)
    return value


LO_MS = 1_767_225_600_000  # 2026-01-01: splits the seeded world's modification times
WINDOW = [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(LO_MS)}]
LEAD = {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}
HIGH = {"propertyName": "hubspotscore", "operator": "GTE", "value": "50"}
CEILING = _id("LTE", "999999999")  # an extra bound in one group only: not planned


def _after(anchor: str | None, op: str = "GT", *more: dict[str, str]) -> list[dict[str, str]]:
    """The re-anchoring filters for a page (none on the first page)."""
    return [_id(op, anchor), *more] if anchor else []


# name -> (groups for an anchor, sorts, descending, predicate on a record's properties)
Shape = tuple[Callable[[str | None], list[dict[str, Any]]], list[Any], bool, Callable[[Props], bool]]
SHAPES: dict[str, Shape] = {
    "reader window": (
        lambda a: [{"filters": WINDOW + _after(a)}],
        ID_ASC,
        False,
        lambda p: _modified(p) >= LO_MS,
    ),
    "two groups sharing the bound": (
        lambda a: [{"filters": [LEAD, *_after(a)]}, {"filters": [*_after(a), HIGH]}],
        [],
        False,
        lambda p: p.get("lifecyclestage") == "lead" or (_score(p) or -1) >= 50,
    ),
    "groups with different bounds": (
        lambda a: [{"filters": [LEAD, *_after(a)]}, {"filters": [HIGH, *_after(a, "GT", CEILING)]}],
        ID_ASC,
        False,
        lambda p: p.get("lifecyclestage") == "lead" or (_score(p) or -1) >= 50,
    ),
    "descending ids": (
        lambda a: [{"filters": WINDOW + _after(a, "LT")}],
        ["-hs_object_id"],
        True,
        lambda p: _modified(p) >= LO_MS,
    ),
}


def _walk(client: Any, shape: Shape, limit: int) -> tuple[list[str], list[int]]:
    """Re-anchor on the last id until a page says there is no more; the ids and each page's total."""
    groups, sorts, _desc, _pred = shape
    ids: list[str] = []
    totals: list[int] = []
    anchor: str | None = None
    while True:
        body = PublicObjectSearchRequest(
            filter_groups=groups(anchor), sorts=sorts, properties=["email"], limit=limit, after="0"
        )
        page = client.crm.contacts.search_api.do_search(public_object_search_request=body)
        ids += [r.id for r in page.results]
        totals.append(page.total)
        if page.paging is None:
            return ids, totals
        anchor = page.results[-1].id


def _truth(sandbox: Any, shape: Shape) -> list[str]:
    _groups, _sorts, desc, pred = shape
    recs = sandbox.app.store.records["contacts"].values()
    return [str(i) for i in sorted((r.id for r in recs if not r.archived and pred(r.props)), reverse=desc)]


@pytest.mark.parametrize("name", list(SHAPES))
def test_reanchored_paging_returns_the_store_truth_with_exact_totals(hubspot_sandbox: Any, name: str) -> None:
    shape = SHAPES[name]
    want = _truth(hubspot_sandbox, shape)
    assert 50 < len(want) < len(hubspot_sandbox.app.store.records["contacts"])  # a real filter, several pages
    ids, totals = _walk(hubspot_sandbox.client(), shape, limit=40)
    assert ids == want
    assert totals == [len(want) - 40 * k for k in range(len(totals))]


def test_writes_between_pages_are_seen_by_the_next_page(hubspot_sandbox: Any) -> None:
    client = hubspot_sandbox.client()
    shape = SHAPES["reader window"]
    groups, sorts = shape[0], shape[1]
    first = client.crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=groups(None), sorts=sorts, limit=40
        )
    )
    anchor = first.results[-1].id
    ahead = [i for i in _truth(hubspot_sandbox, shape) if int(i) > int(anchor)]
    client.crm.contacts.basic_api.archive(ahead[0])
    born = client.crm.contacts.basic_api.create({"properties": {"email": "fresh@paging.example"}})
    nxt = client.crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=groups(anchor), sorts=sorts, limit=200
        )
    )
    got = [r.id for r in nxt.results]
    assert got == [*ahead[1:], born.id]
    assert nxt.total == len(ahead)  # one archived, one created


def test_a_delayed_record_surfaces_mid_walk_without_another_write(hubspot_sandbox_factory: Any) -> None:
    sandbox = hubspot_sandbox_factory(people=0, index_delay=0.4)
    store, client = sandbox.app.store, sandbox.client()
    past = datetime.now(UTC) - timedelta(hours=1)
    for i in range(30):
        store.create("contacts", {"email": f"early{i}@paging.example"}, at=past)
    time.sleep(0.5)
    late = [store.create("contacts", {"email": f"late{i}@paging.example"}, at=past).id for i in range(5)]

    def page(anchor: str | None) -> Any:
        filters = [{"propertyName": "email", "operator": "HAS_PROPERTY"}]
        filters += [_id("GT", anchor)] if anchor else []
        body = PublicObjectSearchRequest(filter_groups=[{"filters": filters}], sorts=ID_ASC, limit=10)
        return client.crm.contacts.search_api.do_search(public_object_search_request=body)

    first = page(None)
    assert first.total == 30
    time.sleep(0.5)
    second = page(first.results[-1].id)
    assert second.total == 25  # 20 early ones left + the 5 that became searchable
    assert [r.id for r in page(str(late[0] - 1)).results] == [str(i) for i in late]
