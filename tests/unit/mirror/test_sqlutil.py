"""The fast paths of sqlutil write exactly what the generic ones would (stored text, hashes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from connector.mirror import tables as t
from connector.mirror.sqlutil import _bind_processor, dumps, dumps_flat

_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_values = st.one_of(st.none(), _text)


@given(st.dictionaries(_text, _values, max_size=30))
def test_flat_properties_dump_like_canonical_json(props: dict[str, str | None]) -> None:
    reference = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert dumps_flat(props) == dumps(props) == reference


@pytest.mark.parametrize(
    "props",
    [
        {"a": "x", "b": 1, "c": None},  # not a string: the generic encoder
        {"a": None, "b": True, "c": "y"},
        {"b": "\udc80", "a": "é"},  # a lone surrogate: stored \u-escaped, as dumps does
        {"only": "one"},
        {},
        {"z": [1, 2], "a": {"n": True}},
    ],
)
def test_flat_dump_falls_back_to_dumps(props: dict[str, Any]) -> None:
    assert dumps_flat(props) == dumps(props)


def _postgresql() -> Dialect:
    return postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves its __init__ unannotated


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),  # another zone: generic path
    ],
)
@pytest.mark.parametrize("dialect", [sqlite.dialect(), _postgresql()])
def test_datetime_shortcut_binds_what_the_dialect_would(value: datetime, dialect: Dialect) -> None:
    column_type = t.RECORDS.c.modified_at.type
    generic = column_type.dialect_impl(dialect).bind_processor(dialect)
    fast = _bind_processor(column_type, dialect)
    assert fast is not None
    assert generic is not None
    assert fast(value) == generic(value)


def test_datetime_shortcut_still_rejects_naive_datetimes() -> None:
    fast = _bind_processor(t.RECORDS.c.modified_at.type, sqlite.dialect())
    assert fast is not None
    with pytest.raises(ValueError, match="naive"):
        fast(datetime(2026, 3, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize("value", [True, False, None, 1, 0])
@pytest.mark.parametrize("dialect", [sqlite.dialect(), _postgresql()])
def test_boolean_shortcut_binds_what_the_dialect_would(value: object, dialect: Dialect) -> None:
    column_type = t.RECORDS.c.archived.type
    generic = column_type.dialect_impl(dialect).bind_processor(dialect)
    fast = _bind_processor(column_type, dialect)
    if generic is None:
        assert fast is None
    else:
        assert fast is not None
        assert fast(value) == generic(value)


def test_flat_dump_spells_every_character_like_canonical_json() -> None:
    """Every BMP character but the surrogates, an astral one, quotes, backslashes and controls,
    in values and keys: orjson's escapes are `json`'s, or stored hashes would change."""
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF] + ["\U0001f600"]
    props: dict[str, str | None] = {f"k{i}": "".join(chars[i : i + 64]) for i in range(0, len(chars), 64)}
    props.update({"\x00\x1f\u2028key": None, 'a"b\\c': "\\", "é": "ü"})
    reference = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert dumps_flat(props) == reference
