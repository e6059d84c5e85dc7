"""Salesforce pull against the HTTPS sandbox through the unmodified simple-salesforce client:
completeness, the compound cursor under ties, deletion, lead conversion, and the call budget."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

from connector.crm.streams import get_stream, streams_for
from connector.mirror.db import Mirror
from connector.model import Crm
from connector.pull import pull_cycle
from tests.contract.pull.conftest import SfFactory, mirrored, rows, salesforce_reader, versions_per_record
from tests.fixtures_salesforce import SalesforceSandbox, bulk_world, small_world

STREAMS = streams_for(Crm.SALESFORCE)


def now() -> datetime:
    return datetime.now(UTC)


def calls_by_kind(sandbox: SalesforceSandbox) -> Counter[str]:
    """query / queryMore / describe / oauth, from the sandbox's call ledger."""
    kinds: Counter[str] = Counter()
    for e in sandbox.admin("GET", "ledger"):
        path = e["path"]
        kind = "describe" if path.endswith("/describe") else path.rstrip("/").rsplit("/", 1)[-1]
        kinds["queryMore" if "-" in kind and kind.startswith("01g") else kind] += 1
    return kinds


def backdate(sandbox: SalesforceSandbox, sobject: str, *, spread: timedelta) -> None:
    """bulk_world dates its people into the future; put them in the past, `spread` apart."""
    stamp = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    for i, rec in enumerate(sandbox.app.store.records[sobject].values()):
        rec["SystemModstamp"] = rec["LastModifiedDate"] = stamp + i * spread


def assert_mirror_equals_sandbox(
    sandbox: SalesforceSandbox, mirror: Mirror, fields: dict[str, tuple[str, ...]]
) -> None:
    sf = sandbox.client()
    for stream in STREAMS:
        soql = f"SELECT {', '.join(fields[stream.name])} FROM {stream.object}"  # test-side oracle query
        truth = {r["Id"]: r for r in sf.query_all(soql, include_deleted=True)["records"]}
        got = mirrored(mirror, "salesforce", stream.object)
        assert set(got) == set(truth), stream.name
        for rid, row in truth.items():
            props = json.loads(got[rid].properties)
            for name in fields[stream.name]:
                value = row[name]
                expected = ("true" if value else "false") if isinstance(value, bool) else value
                assert props[name] == (None if expected is None else str(expected)), (stream.name, rid, name)


def test_full_then_incremental_pull_equals_the_sandbox(
    salesforce_sandbox: SalesforceSandbox, mirror: Mirror
) -> None:
    reader = salesforce_reader(salesforce_sandbox)
    pull_cycle(mirror, [reader], now=now())
    fields = {s.name: reader.fields(s) for s in STREAMS}
    assert_mirror_equals_sandbox(salesforce_sandbox, mirror, fields)
    leads = sorted(mirrored(mirror, "salesforce", "Lead"))
    salesforce_sandbox.admin(
        "POST",
        "activity",
        [
            {"action": "set_lead_status", "id": leads[0], "status": "Working - Contacted"},
            {"action": "create_lead", "fields": {"LastName": "New", "Company": "Acme", "Email": "n@acme.io"}},
        ],
    )
    second = {s.stream: s for s in pull_cycle(mirror, [reader], now=now())}
    assert_mirror_equals_sandbox(salesforce_sandbox, mirror, fields)
    assert (second["salesforce.leads"].inserted, second["salesforce.leads"].changed) == (1, 1)


def test_ties_on_one_system_modstamp_page_through_the_compound_cursor(
    salesforce_factory: SfFactory, mirror: Mirror
) -> None:
    sandbox = salesforce_factory(bulk_world(4_001))
    backdate(sandbox, "Lead", spread=timedelta(0))
    stats = pull_cycle(mirror, [salesforce_reader(sandbox)], now=now(), streams=["salesforce.leads"])
    assert stats[0].records == 4_001
    assert set(versions_per_record(mirror, "salesforce", "Lead").values()) == {1}
    calls = calls_by_kind(sandbox)
    assert calls["queryAll"] + calls["queryMore"] == math.ceil(4_001 / 2000)


def test_deletion_and_lead_conversion_are_followed(
    salesforce_sandbox: SalesforceSandbox, mirror: Mirror
) -> None:
    reader = salesforce_reader(salesforce_sandbox)
    pull_cycle(mirror, [reader], now=now())
    leads = sorted(mirrored(mirror, "salesforce", "Lead"))
    doomed, converted = leads[0], leads[1]
    result = salesforce_sandbox.admin(
        "POST",
        "activity",
        [{"action": "delete", "type": "Lead", "id": doomed}, {"action": "convert_lead", "id": converted}],
    )
    contact_id = result[1]["contact_id"]
    pull_cycle(mirror, [reader], now=now())
    lead_rows = mirrored(mirror, "salesforce", "Lead")
    assert lead_rows[doomed].deleted
    assert lead_rows[doomed].archived
    lead = json.loads(lead_rows[converted].properties)
    assert (lead["IsConverted"], lead["ConvertedContactId"]) == ("true", contact_id)
    assert contact_id in mirrored(mirror, "salesforce", "Contact")
    people = {r.record_id: r.person_id for r in rows(mirror, "SELECT record_id, person_id FROM identities")}
    assert people[converted] == people[contact_id]


def test_a_cycle_with_nothing_changed_makes_one_call_per_stream(
    salesforce_sandbox: SalesforceSandbox, mirror: Mirror
) -> None:
    reader = salesforce_reader(salesforce_sandbox)
    pull_cycle(mirror, [reader], now=now())
    salesforce_sandbox.admin("DELETE", "ledger")
    stats = pull_cycle(mirror, [reader], now=now() + timedelta(seconds=1))
    assert calls_by_kind(salesforce_sandbox) == {"queryAll": len(STREAMS)}
    assert [s.api_calls for s in stats] == [1] * len(STREAMS)


def test_full_pull_uses_the_minimal_number_of_calls(salesforce_factory: SfFactory, mirror: Mirror) -> None:
    world = small_world()
    world.people = bulk_world(4_500).people
    sandbox = salesforce_factory(world)
    backdate(sandbox, "Lead", spread=timedelta(seconds=1))
    sandbox.admin("DELETE", "ledger")
    pull_cycle(mirror, [salesforce_reader(sandbox)], now=now())
    calls = calls_by_kind(sandbox)
    sizes = [len(sandbox.app.store.records[s.object]) for s in STREAMS]
    assert calls["queryAll"] + calls["queryMore"] == sum(max(1, math.ceil(n / 2000)) for n in sizes)
    assert calls["describe"] == len(STREAMS)  # once per object per connection, not per cycle
    assert len(mirrored(mirror, "salesforce", get_stream("salesforce.leads").object)) == 4_500
