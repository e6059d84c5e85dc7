"""The sandbox loaded from the shared seed generator: the Salesforce view matches the World."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.sandbox.seed import generate
from connector.sandbox.world import World
from tests.fixtures_salesforce import NOW, SalesforceSandbox

WORLD = generate(60, 7, overlap=0.5, dirty=0.1, now=NOW)


def _expected(world: World) -> dict[str, int]:
    people = [p for p in world.people if p.in_salesforce]
    return {
        "Lead": sum(p.sf_object == "Lead" for p in people),
        "Contact": sum(p.sf_object == "Contact" for p in people),
        "Opportunity": sum(d.in_salesforce for d in world.deals),
        "Task": sum(t.crm == "salesforce" for t in world.tasks),
    }


@pytest.mark.parametrize(("sobject", "count"), sorted(_expected(WORLD).items()))
def test_counts_match_world(salesforce_sandbox: SalesforceSandbox, sobject: str, count: int) -> None:
    assert salesforce_sandbox.client().query(f"SELECT COUNT() FROM {sobject}")["totalSize"] == count


def test_incremental_cursor_query(salesforce_sandbox: SalesforceSandbox) -> None:
    """The connector's compound (SystemModstamp, Id) cursor: a keyset query sees each record once."""
    sf = salesforce_sandbox.client()
    seen: list[str] = []
    stamp, last_id = "1970-01-01T00:00:00Z", "000000000000000AAA"
    while True:
        page = sf.query(
            "SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp > "
            f"{stamp} OR (SystemModstamp = {stamp} AND Id > '{last_id}') ORDER BY SystemModstamp, Id LIMIT 7"
        )["records"]
        if not page:
            break
        seen += [r["Id"] for r in page]
        at = datetime.strptime(page[-1]["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
        stamp, last_id = at.isoformat().replace("+00:00", "Z"), page[-1]["Id"]
    assert len(seen) == len(set(seen)) == _expected(WORLD)["Lead"]


def test_seeded_lead_converts(salesforce_sandbox: SalesforceSandbox, tmp_path: Path) -> None:
    sf = salesforce_sandbox.client()
    lead = sf.query("SELECT Id FROM Lead WHERE IsConverted = false AND Company != null LIMIT 1")["records"][0]
    (made,) = salesforce_sandbox.admin("POST", "activity", [{"action": "convert_lead", "id": lead["Id"]}])
    row = sf.query(f"SELECT ConvertedContactId FROM Lead WHERE Id = '{lead['Id']}'")["records"][0]
    assert row["ConvertedContactId"] == made["contact_id"]
