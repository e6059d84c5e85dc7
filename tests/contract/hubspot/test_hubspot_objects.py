"""CRUD and list paging through the unmodified hubspot-api-client over a real socket."""

from __future__ import annotations

import pytest
import requests
from hubspot.crm.contacts import ApiException, SimplePublicObjectInputForCreate
from hubspot.crm.deals.exceptions import NotFoundException

from connector.sandbox.hubspot.schema import ISO_PATTERN
from tests.fixtures_hubspot import HubSpotSandbox


def _live(sandbox: HubSpotSandbox, kind: str) -> int:
    return sum(not r.archived for r in sandbox.app.store.records[kind].values())


@pytest.mark.parametrize("kind", ["contacts", "deals", "tasks"])
def test_get_all_pages_through_every_live_record(hubspot_sandbox: HubSpotSandbox, kind: str) -> None:
    client = hubspot_sandbox.client()
    api = client.crm.objects
    seen: list[str] = []
    after: str | None = None
    while True:
        page = api.basic_api.get_page(kind, limit=100, after=after)
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == len(set(seen)) == _live(hubspot_sandbox, kind) > 0


def test_list_limit_above_100_is_refused(hubspot_sandbox: HubSpotSandbox) -> None:
    with pytest.raises(ApiException) as err:
        hubspot_sandbox.client().crm.contacts.basic_api.get_page(limit=101)
    assert err.value.status == 400
    assert '"category":"VALIDATION_ERROR"' in err.value.body


@pytest.mark.parametrize("query", ["properties=email&properties=jobtitle", "properties=email,jobtitle"])
def test_properties_repeated_or_comma_separated(hubspot_sandbox: HubSpotSandbox, query: str) -> None:
    resp = requests.get(
        f"{hubspot_sandbox.url}/crm/v3/objects/contacts?limit=3&{query}",
        headers={"Authorization": "Bearer pat-sandbox"},
        timeout=10,
    )
    props = resp.json()["results"][0]["properties"]
    assert set(props) == {"email", "jobtitle"}


def test_create_get_by_email_and_timestamps(hubspot_sandbox: HubSpotSandbox) -> None:
    api = hubspot_sandbox.client().crm.contacts.basic_api
    made = api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={"email": "New.Person@Example.com", "hubspotscore": "42"}
        )
    )
    assert made.properties["hs_object_id"] == made.id
    got = api.get_by_id(
        "new.person@example.com", id_property="email", properties=["hubspotscore", "lastmodifieddate"]
    )
    assert got.id == made.id
    assert got.properties["hubspotscore"] == "42"
    assert ISO_PATTERN.fullmatch(got.properties["lastmodifieddate"])


def test_delete_archives_and_archived_true_lists_only_archived(hubspot_sandbox: HubSpotSandbox) -> None:
    api = hubspot_sandbox.client().crm.deals.basic_api
    victim = api.get_page(limit=1).results[0].id
    api.archive(victim)
    with pytest.raises(NotFoundException):  # the deals package's own exception class
        api.get_by_id(victim)
    archived = api.get_page(limit=100, archived=True)
    assert [r.id for r in archived.results] == [victim]
    assert archived.results[0].archived is True


def test_update_bumps_modified_and_keeps_strings(hubspot_sandbox: HubSpotSandbox) -> None:
    api = hubspot_sandbox.client().crm.deals.basic_api
    deal = api.get_page(limit=1, properties=["hs_lastmodifieddate"]).results[0]
    updated = api.update(deal.id, {"properties": {"amount": 1234.5, "dealstage": "contractsent"}})
    assert updated.properties["amount"] == "1234.5"
    assert updated.properties["hs_lastmodifieddate"] > deal.properties["hs_lastmodifieddate"]
    assert "hs_v2_date_entered_contractsent" in updated.properties
    assert updated.updated_at > deal.updated_at
