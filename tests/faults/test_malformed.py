"""Malformed records and hostile values (scenarios 13 and 14): a record the connector cannot use
is skipped and named, the run goes on, and text that looks like SOQL stays data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.contract.push.harness import Crms
from tests.faults.invariants import RecordProperty, losses, started

HOSTILE = "x' OR Name != null OR Name = '\\"  # quote, SOQL operators, a trailing backslash
# Unknown lifecycle values cannot be created through the API (HubSpot validates the option); the
# seeded world carries some on purpose (seed.UNKNOWN_LIFECYCLE), so every cycle here reads them.
MALFORMED_CONTACTS: dict[str, dict[str, Any]] = {
    "null-email": {"firstname": "No", "lastname": "Email", "lifecyclestage": "lead"},
    "huge-string": {"email": "huge@example.com", "jobtitle": "A" * 200_000, "lifecyclestage": "lead"},
    "bad-score": {"email": "score@example.com", "hubspotscore": "n/a", "lifecyclestage": "lead"},
}


def create_contact(crms: Crms, props: dict[str, Any]) -> str:
    body = json.dumps([{"action": "create", "type": "contacts", "properties": props}])  # escapes surrogates
    import requests  # noqa: PLC0415 - the harness's admin() would re-encode the surrogates strictly

    resp = requests.post(
        f"{crms.hubspot.url}/__sandbox/activity",
        data=body.encode("ascii"),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    resp.raise_for_status()
    return str(resp.json()["results"][0]["id"])


def mirrored(crms: Crms, crm: str, rid: str) -> dict[str, Any] | None:
    mirror = crms.mirror()
    with mirror.reader() as s:
        row = (
            s.connection()
            .exec_driver_sql("SELECT properties FROM records WHERE crm = ? AND record_id = ?", (crm, rid))
            .first()
        )
    mirror.close()
    return json.loads(row[0]) if row else None


@pytest.mark.scenario(13)
def test_malformed_records_do_not_stop_the_cycle(tmp_path: Path, record_property: RecordProperty) -> None:
    with started(tmp_path) as crms:
        crms.cycle()
        ids = {name: create_contact(crms, props) for name, props in MALFORMED_CONTACTS.items()}
        sane = create_contact(
            crms, {"email": "sane@example.com", "hubspotscore": "92", "lifecyclestage": "lead"}
        )

        report = crms.cycle()  # must not raise

        assert report.stopped == []
        assert mirrored(crms, "hubspot", sane) is not None, "a good record after bad ones was not read"
        for name in ("null-email", "huge-string", "bad-score"):
            assert mirrored(crms, "hubspot", ids[name]) is not None, name  # kept as data; rules skip them
        lost = losses(crms)
        record_property("lost", len(lost))
        assert lost == []
        crms.clear_ledgers()
        crms.cycle()
        assert crms.write_calls() == []  # the bad records do not make every cycle write again


@pytest.mark.scenario(13)
def test_a_value_that_is_not_valid_unicode_is_skipped_not_fatal(tmp_path: Path) -> None:
    with started(tmp_path) as crms:
        crms.cycle()
        create_contact(crms, {"email": "surrogate@example.com", "firstname": "\udc80\udcff"})
        sane = create_contact(crms, {"email": "sane@example.com", "lifecyclestage": "lead"})
        crms.cycle()  # must not raise
        assert mirrored(crms, "hubspot", sane) is not None


@pytest.mark.scenario(14)
def test_soql_injection_in_field_values_is_inert(tmp_path: Path, record_property: RecordProperty) -> None:
    with started(tmp_path) as crms:
        crms.cycle()
        leads_before = len(crms.sf_app.store.live("Lead"))
        fields = {"LastName": HOSTILE, "Company": HOSTILE, "Email": "o'brien@example.com", "Title": HOSTILE}
        created = crms.admin("salesforce", "POST", "activity", [{"action": "create_lead", "fields": fields}])
        rid = str(created[0]["id"])

        crms.cycle()
        crms.cycle()

        held = mirrored(crms, "salesforce", rid)
        assert held is not None
        assert held["LastName"] == HOSTILE  # stored verbatim: data, never query text
        assert len(crms.sf_app.store.live("Lead")) == leads_before + 1
        lost = losses(crms)
        record_property("lost", len(lost))
        assert lost == []
