"""The SOQL parser on its own: grammar, literals, escapes, and refusal of injection-shaped input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connector.sandbox.salesforce.describe import CANONICAL, FIELDS, SOBJECTS
from connector.sandbox.salesforce.soql import BoolOp, Compare, Not, Query, SoqlError, matches, parse


def _resolve(sobject: str, name: str) -> tuple[str, str]:
    canonical = CANONICAL[sobject].get(name.lower())
    if canonical is None:
        raise SoqlError(f"No such column '{name}' on entity '{sobject}'", "INVALID_FIELD")
    return canonical, FIELDS[sobject][canonical].type


def q(text: str) -> Query:
    return parse(text, SOBJECTS, _resolve)


def test_structure_and_canonical_names() -> None:
    query = q(
        "select id, EMAIL from lead where (status = 'A' or status = 'B') and not isconverted = true "
        "order by systemmodstamp asc nulls last, id desc limit 10"
    )
    assert (query.sobject, query.fields, query.limit) == ("Lead", ("Id", "Email"), 10)
    assert isinstance(query.where, BoolOp)
    assert query.where.op == "AND"
    assert isinstance(query.where.parts[0], BoolOp)
    assert isinstance(query.where.parts[1], Not)
    assert [(o.field, o.descending, o.nulls_last) for o in query.order] == [
        ("SystemModstamp", False, True),
        ("Id", True, False),
    ]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("CreatedDate > 2024-01-01T12:00:00Z", datetime(2024, 1, 1, 12, tzinfo=UTC)),
        ("CreatedDate > 2024-01-01T12:00:00.250+02:00", datetime(2024, 1, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("CreatedDate > 2024-01-01T12:00:00-05:30", datetime(2024, 1, 1, 17, 30, tzinfo=UTC)),
        ("ConvertedDate = 2024-02-29", date(2024, 2, 29)),
        ("Lead_Score__c = 'it\\'s \\\\ ok\\n'", "it's \\ ok\n"),
        ("IsConverted = TRUE", True),
        ("Email = NULL", None),
    ],
)
def test_literals(where: str, value: object) -> None:
    query = q(f"SELECT Id FROM Lead WHERE {where}")
    assert isinstance(query.where, Compare)
    assert query.where.value == value


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("'50\\%%'", "50% off", True),
        ("'50\\%%'", "500 off", False),
        ("'a\\_b'", "a_b", True),
        ("'a\\_b'", "axb", False),
        ("'a_b'", "axb", True),
        ("'%.com'", "x.COM", True),
        ("'(x)*'", "(x)*", True),
        ("'(x)*'", "xx", False),
    ],
)
def test_like_escapes(pattern: str, text: str, hit: bool) -> None:
    query = q(f"SELECT Id FROM Lead WHERE Email LIKE {pattern}")
    assert matches(query.where, {"Email": text}) is hit


@pytest.mark.parametrize(
    "text",
    [
        "SELECT Id FROM Lead WHERE Email = 'x' OR 1=1",
        "SELECT Id FROM Lead WHERE Email = 'x'' OR ''1''=''1'",
        "SELECT Id FROM Lead WHERE Email = 'x'; DELETE FROM Lead",
        "SELECT Id FROM Lead WHERE Email = 'x' -- comment",
        "SELECT Id FROM Lead WHERE Email = 'unterminated",
        "SELECT Id FROM Lead WHERE Email = 'bad \\q escape'",
        "SELECT Id FROM Lead WHERE Email = __import__('os')",
        "SELECT Id FROM Lead WHERE a = 1 AND b = 2 OR c = 3",
        "SELECT Id FROM Lead WHERE (Email = 'x'",
        "SELECT Id FROM Lead LIMIT -1",
        "SELECT Id FROM Lead LIMIT 5 5",
        "SELECT FROM Lead",
        "SELECT Id, FROM Lead",
        "SELECT Id FROM Lead WHERE CreatedDate > 2024-13-45T00:00:00Z",
        "SELECT Id FROM Lead WHERE Email NOT LIKE 'x'",
        "DELETE FROM Lead",
    ],
)
def test_malformed_input_is_refused(text: str) -> None:
    with pytest.raises(SoqlError) as err:
        q(text)
    assert err.value.code in {"MALFORMED_QUERY", "INVALID_FIELD"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT Nope FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Account.Name = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE IsConverted = 'true'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Email = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
    ],
)
def test_semantic_errors(text: str, code: str) -> None:
    with pytest.raises(SoqlError) as err:
        q(text)
    assert err.value.code == code
