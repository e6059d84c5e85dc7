"""Client construction: missing credentials are ConfigErrors that name what to set, never a secret."""

from __future__ import annotations

import json

import pytest
import requests
from simple_salesforce.api import Salesforce

from connector.config import HubSpotSettings, SalesforceSettings, Secret
from connector.crm.clients import HubSpotConnection, _loads, _Salesforce, salesforce_login
from connector.errors import ConfigError


def test_hubspot_without_any_credential_names_the_variables() -> None:
    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN"):
        HubSpotConnection(HubSpotSettings(base_url="http://127.0.0.1:9"))


@pytest.mark.parametrize(
    "settings",
    [
        SalesforceSettings(),
        SalesforceSettings(username="u@example.com", password=Secret("hunter2")),  # no client id
        SalesforceSettings(refresh_token=Secret("r-123")),  # no client id
    ],
)
def test_salesforce_without_a_usable_grant_names_the_variables(settings: SalesforceSettings) -> None:
    with pytest.raises(ConfigError, match="SALESFORCE_CLIENT_ID") as info:
        salesforce_login(settings, requests.Session())
    assert "hunter2" not in str(info.value)
    assert "r-123" not in str(info.value)


def test_hubspot_client_is_built_without_urllib3_retries() -> None:
    conn = HubSpotConnection(
        HubSpotSettings(base_url="http://127.0.0.1:9", access_token=Secret("pat-xyz-123"))
    )
    api = conn.api("crm.contacts.search_api")
    assert api.api_client.configuration.retries is False
    assert conn.api("crm.contacts.search_api") is api  # built once, pool reused
    assert "pat-xyz-123" not in repr(vars(conn))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"results":[{"id":"1","properties":{"email":"a@b.example","n":null}}]}', None),
        (b'{"v":"bad \\udc80 utf-8"}', {"v": "bad \udc80 utf-8"}),  # a lone surrogate escape
        (b'{"v":NaN}', None),
        (b'{"toObjectId":9007199254740993,"total":10001}', {"toObjectId": 9007199254740993, "total": 10001}),
    ],
)
def test_response_bodies_decode_like_pythons_json(body: bytes, expected: object) -> None:
    """orjson first; what it refuses and `json` accepts still decodes, to the same values."""
    decoded = _loads(body)
    if expected is not None:
        assert decoded == expected
    reference = json.loads(body)
    assert repr(decoded) == repr(reference)  # repr: NaN != NaN


@pytest.mark.parametrize(
    "body",
    [
        b'{"totalSize":1,"done":true,"records":[{"Id":"00Q1","Email":null,"Amount":12.5,"IsDeleted":false}]}',
        b'{"records":[{"Name":"bad \\udc80 utf-8"}]}',  # orjson refuses: the library decodes it
        b'{"records":[{"Name":"\xff\xfe not utf-8"}]}',  # invalid bytes: requests' replacement
    ],
)
def test_salesforce_bodies_decode_like_the_library(body: bytes) -> None:
    sf = _Salesforce(instance_url="https://sf.example", session_id="sid", object_pairs_hook=None)
    response = requests.Response()
    response._content = body  # as requests stores a body read from the wire
    response.status_code = 200
    assert repr(sf.parse_result_to_json(response)) == repr(Salesforce.parse_result_to_json(sf, response))
