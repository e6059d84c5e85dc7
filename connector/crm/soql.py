"""SOQL for incremental reads, built without f-strings from values.

Identifiers (object and field names) cannot be quoted in SOQL, so they are checked twice: by
shape, and against the object's describe. Every value goes through simple-salesforce's
`format_soql`; datetimes are rendered by us as UTC `...Z` literals because `format_soql` emits
`+00:00`, whose `+` turns into a space wherever a URL is decoded naively (reliability §5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from simple_salesforce.format import format_soql

from connector.crm.protocol import Window
from connector.errors import ConfigError

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


def soql_datetime(at: datetime) -> str:
    """An unquoted SOQL datetime literal in UTC with Z (milliseconds only when present)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to SOQL; the connector only uses aware UTC datetimes")
    utc = at.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def checked_fields(
    sobject: str, wanted: Iterable[str], described: Iterable[str], optional: Iterable[str] = ()
) -> tuple[str, ...]:
    """`wanted` (each must exist) plus those `optional` fields the org has, spelled as describe
    spells them; a ConfigError names every missing required field at once."""
    if not _IDENT.fullmatch(sobject):
        raise ConfigError(f"not a Salesforce object name: {sobject!r}")
    known = {f.lower(): f for f in described if _IDENT.fullmatch(f)}
    fields = tuple(wanted)
    missing = [f for f in fields if f.lower() not in known]
    if missing:
        raise ConfigError(f"{sobject}: fields not in describe: {', '.join(missing)}")
    chosen = [known[f.lower()] for f in fields]
    chosen += [known[f.lower()] for f in optional if f.lower() in known and known[f.lower()] not in chosen]
    return tuple(chosen)


def changes_query(sobject: str, fields: tuple[str, ...], cursor_field: str, window: Window) -> str:
    """Records with cursor in [lo, hi], after (cursor, Id) = window.after, ordered by (cursor, Id).

    The compound cursor lets thousands of records share one SystemModstamp without a loop or a
    skip; `fields` and `cursor_field` must come from `checked_fields`.
    """
    for ident in (sobject, cursor_field, *fields):
        if not _IDENT.fullmatch(ident):
            raise ConfigError(f"not a Salesforce identifier: {ident!r}")
    cond = [format_soql("{:literal} <= {:literal}", cursor_field, soql_datetime(window.hi))]
    after = window.after
    if after is not None and after.at is not None:
        at = soql_datetime(after.at)
        cond.append(
            format_soql(
                "({c:literal} > {at:literal} OR ({c:literal} = {at:literal} AND Id > {after_id}))",
                c=cursor_field,
                at=at,
                after_id=after.token,
            )
        )
    elif window.lo is not None:
        cond.append(format_soql("{:literal} >= {:literal}", cursor_field, soql_datetime(window.lo)))
    return format_soql(
        "SELECT {fields:literal} FROM {sobject:literal} WHERE {where:literal} "
        "ORDER BY {c:literal} ASC, Id ASC",
        fields=", ".join(fields),
        sobject=sobject,
        where=" AND ".join(cond),
        c=cursor_field,
    )
