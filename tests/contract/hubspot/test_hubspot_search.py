"""CRM search through the real client: operators, sorts, offset paging, the 10k cap, index delay."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from hubspot.crm.objects import ApiException, PublicObjectSearchRequest

from connector.sandbox.hubspot.schema import DEFAULT_PROPS, sortable
from connector.sandbox.hubspot.store import Props, Store
from tests.fixtures_hubspot import HubSpotSandbox, SandboxFactory

Filter = dict[str, Any]


def _search(client: Any, kind: str = "contacts", **body: Any) -> Any:
    api = client.crm.objects.search_api
    return api.do_search(kind, public_object_search_request=PublicObjectSearchRequest(**body))


def _group(*filters: Filter) -> list[dict[str, list[Filter]]]:
    return [{"filters": list(filters)}]


def _expected(sandbox: HubSpotSandbox, kind: str, pred: Callable[[Props], bool]) -> set[str]:
    return {str(r.id) for r in sandbox.app.store.records[kind].values() if not r.archived and pred(r.props)}


def _score(props: Props) -> float | None:
    return cast("float | None", sortable("hubspotscore", props.get("hubspotscore")))  # a number property


CASES: list[tuple[Filter, Callable[[Props], bool]]] = [
    (
        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
        lambda p: p.get("lifecyclestage") == "lead",
    ),
    (
        {"propertyName": "lifecyclestage", "operator": "NEQ", "value": "lead"},
        lambda p: p.get("lifecyclestage") != "lead",
    ),
    ({"propertyName": "hubspotscore", "operator": "GTE", "value": "70"}, lambda p: (_score(p) or -1) >= 70),
    (
        {"propertyName": "hubspotscore", "operator": "LT", "value": "9"},
        lambda p: (score := _score(p)) is not None and score < 9,
    ),
    (
        {"propertyName": "hubspotscore", "operator": "BETWEEN", "value": "10", "highValue": "20"},
        lambda p: (score := _score(p)) is not None and 10 <= score <= 20,
    ),
    (
        {"propertyName": "hs_lead_status", "operator": "IN", "values": ["NEW", "OPEN"]},
        lambda p: p.get("hs_lead_status") in {"NEW", "OPEN"},
    ),
    (
        {"propertyName": "hs_lead_status", "operator": "NOT_IN", "values": ["NEW", "OPEN"]},
        lambda p: p.get("hs_lead_status") not in {"NEW", "OPEN"},
    ),
    ({"propertyName": "email", "operator": "HAS_PROPERTY"}, lambda p: bool(p.get("email"))),
    ({"propertyName": "email", "operator": "NOT_HAS_PROPERTY"}, lambda p: not p.get("email")),
]


@pytest.mark.parametrize(("flt", "pred"), CASES, ids=[c[0]["operator"] for c in CASES])
def test_operators_match_the_store(
    hubspot_sandbox: HubSpotSandbox, flt: Filter, pred: Callable[[Props], bool]
) -> None:
    client = hubspot_sandbox.client()
    got: set[str] = set()
    after: str | None = None
    while True:
        page = _search(client, filter_groups=_group(flt), limit=200, after=after, properties=["email"])
        got |= {r.id for r in page.results}
        if page.paging is None:
            break
        after = page.paging.next.after
    assert got == _expected(hubspot_sandbox, "contacts", pred)
    assert page.total == len(got)


@pytest.mark.parametrize("value_form", ["epoch_ms", "iso"])
def test_date_filters_accept_epoch_ms_and_iso(hubspot_sandbox: HubSpotSandbox, value_form: str) -> None:
    cut_ms = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    value = str(cut_ms) if value_form == "epoch_ms" else "2026-01-01T00:00:00.000Z"
    page = _search(
        hubspot_sandbox.client(),
        filter_groups=_group({"propertyName": "createdate", "operator": "GT", "value": value}),
        limit=1,
    )
    want = _expected(
        hubspot_sandbox, "contacts", lambda p: cast("float", sortable("createdate", p["createdate"])) > cut_ms
    )
    assert page.total == len(want) > 0


def test_groups_are_ored_and_filters_anded(hubspot_sandbox: HubSpotSandbox) -> None:
    groups = [
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}]},
        {
            "filters": [
                {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
                {"propertyName": "hs_lead_status", "operator": "EQ", "value": "NEW"},
            ]
        },
    ]
    page = _search(hubspot_sandbox.client(), filter_groups=groups, limit=200)
    want = _expected(
        hubspot_sandbox,
        "contacts",
        lambda p: (
            p.get("lifecyclestage") == "customer"
            or (p.get("lifecyclestage") == "lead" and p.get("hs_lead_status") == "NEW")
        ),
    )
    assert {r.id for r in page.results} == want


@pytest.mark.parametrize(
    "sort", [{"propertyName": "hubspotscore", "direction": "DESCENDING"}, "-hubspotscore"]
)
def test_sort_descending_numeric(hubspot_sandbox: HubSpotSandbox, sort: Filter | str) -> None:
    page = _search(hubspot_sandbox.client(), sorts=[sort], limit=50, properties=["hubspotscore"])
    scores = [cast("float", _score(r.properties)) for r in page.results]  # the top 50 all have one
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == 100 or scores[0] > 90


def test_default_properties_when_none_asked(hubspot_sandbox: HubSpotSandbox) -> None:
    page = _search(hubspot_sandbox.client(), "deals", limit=2)
    assert set(page.results[0].properties) == set(DEFAULT_PROPS["deals"])
    assert page.paging.next.after == "2"


def test_search_limit_above_200_is_refused(hubspot_sandbox: HubSpotSandbox) -> None:
    with pytest.raises(ApiException) as err:
        _search(hubspot_sandbox.client(), limit=201)
    assert err.value.status == 400


def test_paging_beyond_ten_thousand_is_a_400(hubspot_sandbox_factory: SandboxFactory) -> None:
    sandbox = hubspot_sandbox_factory(people=0)
    store: Store = sandbox.app.store
    for i in range(10_050):
        store.create("contacts", {"email": f"p{i}@cap.example"})
    client = sandbox.client()
    last = _search(client, limit=200, after="9800")
    assert last.total == 10_050
    assert last.paging.next.after == "10000"
    with pytest.raises(ApiException) as err:
        _search(client, limit=200, after="10000")
    assert err.value.status == 400
    assert '"status":"error"' in err.value.body
    assert "10000" in err.value.body


def test_search_sees_writes_only_after_index_delay(hubspot_sandbox_factory: SandboxFactory) -> None:
    sandbox = hubspot_sandbox_factory(people=0, index_delay=0.3)
    client = sandbox.client()
    client.crm.contacts.basic_api.create({"properties": {"email": "late@x.example"}})
    flt = _group({"propertyName": "email", "operator": "EQ", "value": "late@x.example"})
    assert _search(client, filter_groups=flt).total == 0
    time.sleep(0.35)
    assert _search(client, filter_groups=flt).total == 1


def test_search_excludes_archived(hubspot_sandbox: HubSpotSandbox) -> None:
    client = hubspot_sandbox.client()
    flt = _group({"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"})
    before = _search(client, filter_groups=flt, limit=1)
    client.crm.contacts.basic_api.archive(before.results[0].id)
    assert _search(client, filter_groups=flt, limit=1).total == before.total - 1
