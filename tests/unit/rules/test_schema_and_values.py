"""The committed JSON Schema is fresh and accepts the shipped files; value maps both ways; operators."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from connector.model import Crm, Person, SourceRecord, Stage
from connector.rules.compiled import Mapping
from connector.rules.conditions import compile_condition
from connector.rules.engine import canonical_stage_of
from connector.rules.facts import Facts
from connector.rules.loader import DEFAULT_MAPPING
from connector.rules.schema import Leaf, Phase, render_json_schema
from connector.rules.values import deal_stage_value, stage_writes, to_crm_value
from connector.rules.yamlsafe import read
from tests.unit.rules.builders import NOW, hubspot, salesforce

MAPPINGS = DEFAULT_MAPPING.parent


def test_committed_schema_is_not_stale() -> None:
    committed = (MAPPINGS / "schema.json").read_text()
    assert committed == render_json_schema(), "run: python -m connector.rules.schema > mappings/schema.json"


@pytest.mark.parametrize("path", sorted(MAPPINGS.rglob("*.yaml")), ids=lambda p: p.name)
def test_shipped_files_match_the_schema(path: Path) -> None:
    schema = json.loads((MAPPINGS / "schema.json").read_text())
    jsonschema.validate(read(path).data, schema)


def test_schema_rejects_an_unknown_operator() -> None:
    schema = json.loads((MAPPINGS / "schema.json").read_text())
    bad = {"advance": [{"id": "x", "to": "mql", "when": {"field": "lead_score", "gtee": 1}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.mark.parametrize(
    ("crm", "object_type", "stage", "value"),
    [
        (Crm.HUBSPOT, "contacts", Stage.MQL, "marketingqualifiedlead"),
        (Crm.HUBSPOT, "contacts", Stage.SAL, "marketingqualifiedlead"),
        (Crm.HUBSPOT, "contacts", Stage.RECYCLED, "other"),
        (Crm.SALESFORCE, "Contact", Stage.CUSTOMER, "Customer"),
        (Crm.SALESFORCE, "Lead", Stage.SAL, "Working - Contacted"),
        (Crm.SALESFORCE, "Contact", Stage.RECYCLED, "Other"),
        (Crm.SALESFORCE, "Lead", Stage.DISQUALIFIED, "Closed - Not Converted"),
        (Crm.SALESFORCE, "Lead", Stage.CUSTOMER, None),
    ],
)
def test_to_crm_value(mapping: Mapping, crm: Crm, object_type: str, stage: Stage, value: str | None) -> None:
    assert to_crm_value(mapping, crm, object_type, stage) == value


def test_stage_writes_cover_every_stage_property(mapping: Mapping) -> None:
    assert stage_writes(mapping, Crm.HUBSPOT, "contacts", Stage.SAL) == {
        "lifecyclestage": "marketingqualifiedlead",
        "hs_lead_status": "IN_PROGRESS",
    }


@pytest.mark.parametrize(
    "stage", [Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.EVANGELIST]
)
@pytest.mark.parametrize(("crm", "object_type", "maker"), [(Crm.HUBSPOT, "contacts", hubspot)])
def test_value_maps_round_trip(
    mapping: Mapping, stage: Stage, crm: Crm, object_type: str, maker: Callable[..., SourceRecord]
) -> None:
    value = to_crm_value(mapping, crm, object_type, stage)
    assert value is not None
    assert canonical_stage_of(maker(lifecyclestage=value), mapping) == stage


@pytest.mark.parametrize(
    ("crm", "phase", "value"),
    [
        (Crm.HUBSPOT, 1, "appointmentscheduled"),
        (Crm.HUBSPOT, "won", "closedwon"),
        (Crm.SALESFORCE, 5, "Negotiation/Review"),
        (Crm.SALESFORCE, "lost", "Closed Lost"),
    ],
)
def test_deal_stage_values(mapping: Mapping, crm: Crm, phase: Phase, value: str) -> None:
    assert deal_stage_value(mapping, crm, phase) == value


def test_canonical_stage_of_unknown_is_none(mapping: Mapping) -> None:
    assert canonical_stage_of(hubspot(lifecyclestage="bogus"), mapping) is None
    assert canonical_stage_of(salesforce("Contact", Lifecycle_Stage__c="Churned"), mapping) == Stage.CHURNED


def _facts(mapping: Mapping, **props: str) -> Facts:
    record = SourceRecord(Crm.HUBSPOT, "contacts", "1", props, NOW)
    return Facts(Person("p", None, (record,)), mapping)


OPS: list[tuple[dict[str, object], dict[str, str], bool]] = [
    ({"field": "lead_score", "eq": 50}, {"hubspotscore": "50"}, True),
    ({"field": "lead_score", "ne": 50}, {}, True),
    ({"field": "lead_status", "in": ["working", "open"]}, {"hs_lead_status": "OPEN"}, True),
    ({"field": "lead_status", "not_in": ["working"]}, {"hs_lead_status": "IN_PROGRESS"}, False),
    ({"field": "lead_score", "gt": 50}, {"hubspotscore": "50"}, False),
    ({"field": "lead_score", "gte": 50}, {"hubspotscore": "50"}, True),
    ({"field": "lead_score", "lt": 50}, {"hubspotscore": "49.5"}, True),
    ({"field": "lead_score", "lte": 50}, {}, False),
    ({"field": "lead_score", "between": [10, 20]}, {"hubspotscore": "20"}, True),
    ({"field": "company", "exists": True}, {"company": "Acme"}, True),
    ({"field": "company", "missing": True}, {"company": ""}, True),
    ({"field": "job_title", "contains": "Sales"}, {"jobtitle": "Head of Sales"}, True),
    ({"field": "job_title", "matches": "(?i)^head"}, {"jobtitle": "HEAD of x"}, True),
    (
        {"field": "last_contacted_at", "older_than": "2d"},
        {"notes_last_contacted": (NOW - timedelta(days=3)).isoformat()},
        True,
    ),
    ({"field": "last_contacted_at", "newer_than": "2d"}, {"notes_last_contacted": "2026-05-31"}, True),
    (
        {"field": "last_contacted_at", "newer_than": "2d"},
        {"notes_last_contacted": str(int(NOW.timestamp() * 1000))},
        True,
    ),
]


@pytest.mark.parametrize(
    ("cond", "props", "holds"), OPS, ids=[next(k for k in c if k != "field") for c, _, _ in OPS]
)
def test_operator_table(
    mapping: Mapping, cond: dict[str, object], props: dict[str, str], holds: bool
) -> None:
    check = compile_condition(Leaf.model_validate(cond))
    assert check(_facts(mapping, **props), NOW) is holds
