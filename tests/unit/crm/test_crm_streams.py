"""The streams table is the single declaration every adapter loops over."""

from __future__ import annotations

import pytest

from connector.crm.streams import STREAMS, Stream, get_stream, streams_for
from connector.errors import ConfigError
from connector.model import Crm


def test_names_are_unique() -> None:
    assert len({s.name for s in STREAMS}) == len(STREAMS)


@pytest.mark.parametrize("stream", [s for s in STREAMS if s.kind == "changes"], ids=lambda s: s.name)
def test_cursor_field_is_pulled(stream: Stream) -> None:
    assert stream.cursor_field in stream.properties


@pytest.mark.parametrize(
    ("crm", "objects"),
    [
        (Crm.HUBSPOT, {"contacts", "deals"}),
        (Crm.SALESFORCE, {"Lead", "Contact", "Account", "Opportunity"}),
    ],
)
def test_issue_objects_are_covered(crm: Crm, objects: set[str]) -> None:
    assert {s.object for s in streams_for(crm)} == objects


def test_salesforce_streams_select_deletion_and_conversion_fields() -> None:
    lead = get_stream("salesforce.leads")
    assert {"IsDeleted", "ConvertedContactId", "IsConverted"} <= set(lead.properties)
    assert all("IsDeleted" in s.properties for s in streams_for(Crm.SALESFORCE))


def test_unknown_stream_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"hubspot\.contacts"):
        get_stream("hubspot.tickets")
