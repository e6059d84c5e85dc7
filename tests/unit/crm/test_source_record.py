"""The adapters' SourceRecord builder gives exactly what the constructor gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connector.model import Crm, SourceRecord, source_record

AT = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "args",
    [
        (Crm.HUBSPOT, "contacts", "101", {"email": "a@b.example", "phone": None}, AT, False, {}),
        (Crm.HUBSPOT, "deals", "7", {"dealstage": "won"}, AT, True, {"contacts": ("101", "102")}),
        (Crm.SALESFORCE, "Lead", "00Q1", {}, AT, False, {}),
    ],
)
def test_built_record_is_the_constructors(args: tuple[Any, ...]) -> None:
    built, made = source_record(*args), SourceRecord(*args)
    assert built == made
    assert repr(built) == repr(made)
    with pytest.raises(AttributeError):
        built.record_id = "other"  # type: ignore[misc]  # still frozen
