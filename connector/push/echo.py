"""Echo suppression at the freshness level: our own write must not make a record look "newer".

The engine resolves a fact from the newest of a person's duplicate records. Our write bumps that
record's modified time in the CRM, so without this the next cycle would read its facts from a
different duplicate and decide again (a ping-pong between duplicates). For a record whose latest
pulled change consists only of values we wrote (plus the CRM's own bookkeeping fields), the
engine is shown the modified time of the version before our write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from connector.mirror import tables as t
from connector.mirror.identity import owned_records, survivors
from connector.mirror.records import history, of_records
from connector.mirror.sqlutil import chunks
from connector.model import Crm, Person
from connector.push.writes import PlannedWrite

RecordKey = tuple[str, str, str]  # crm, object_type, record_id

# Fields the CRM itself changes when anyone writes: never evidence of a person's edit.
BOOKKEEPING: Mapping[str, re.Pattern[str]] = {
    Crm.HUBSPOT.value: re.compile(
        r"^(lastmodifieddate|hs_lastmodifieddate|hs_v2_(date_entered|date_exited|latest_time_in)_\w+"
        r"|hs_(date_entered|date_exited|time_in)_\w+|hs_lifecyclestage_\w+_date)$"
    ),
    Crm.SALESFORCE.value: re.compile(r"^(LastModifiedDate|SystemModstamp|LastModifiedById)$"),
}


def _records_of(session: Session, person_ids: Collection[str]) -> set[RecordKey]:
    """The record keys the given people own now (merged ids resolved, as `load_people` does)."""
    wanted = sorted(set(survivors(session, person_ids).values()))
    return {
        (crm, object_type, record_id) for crm, object_type, record_id, _ in owned_records(session, wanted)
    }


def _written(session: Session, only: set[RecordKey] | None) -> dict[RecordKey, dict[str, str]]:
    """Record -> the values our sent stage writes put there (later writes win); `only` those records.

    The filter runs before the payload is parsed: the sent writes pile up over a mirror's life,
    and a cycle that evaluates a few people should not decode them all."""
    out = t.OUTBOX.c
    rows = session.connection().execute(
        select(out.crm, out.object_type, out.record_id, out.payload)
        .where(out.status == "sent", out.op == "stage_update")
        .order_by(out.sent_at, out.key)
    )
    written: dict[RecordKey, dict[str, str]] = {}
    for crm, object_type, record_id, payload in rows:
        if only is not None and (crm, object_type, record_id or "") not in only:
            continue
        w = PlannedWrite.from_json(payload)
        written.setdefault((w.crm.value, w.object_type, w.record_id or ""), {}).update(w.properties)
    return written


def versions_of(crm: str, object_type: str, record_ids: Sequence[str]) -> Select[Any]:
    """Every version of these records; runs every cycle, each branch by its primary key (tested)."""
    v = history(of_records(crm, object_type, record_ids)).c
    return select(v.record_id, v.version_no, v.properties, v.modified_at)


def _last_two(session: Session, keys: Iterable[RecordKey]) -> dict[RecordKey, list[Any]]:
    by_type: dict[tuple[str, str], list[str]] = {}
    for crm, object_type, record_id in keys:
        by_type.setdefault((crm, object_type), []).append(record_id)
    versions: dict[RecordKey, list[Any]] = {}
    for (crm, object_type), ids in by_type.items():
        for part in chunks(ids):
            for row in session.connection().execute(versions_of(crm, object_type, part)):
                versions.setdefault((crm, object_type, row.record_id), []).append(row)
    return {k: sorted(rows, key=lambda r: r.version_no)[-2:] for k, rows in versions.items()}


def echo_times(session: Session, person_ids: Collection[str] | None = None) -> dict[RecordKey, datetime]:
    """Records whose latest change is only our echo -> the modified time before it.

    `person_ids`: only the records those people own (None: every record we wrote)."""
    written = _written(session, None if person_ids is None else _records_of(session, person_ids))
    result: dict[RecordKey, datetime] = {}
    for key, pair in _last_two(session, written).items():
        if len(pair) < 2:
            continue
        before, after = json.loads(pair[0].properties), json.loads(pair[1].properties)
        ours, noise = written[key], BOOKKEEPING[key[0]]
        changed = {f for f in before.keys() | after.keys() if before.get(f) != after.get(f)}
        if any(f not in ours and not noise.match(f) for f in changed):
            continue  # someone else changed something too: the record really is newer
        if all(after.get(f) == v for f, v in ours.items() if f in changed):
            result[key] = pair[0].modified_at
    return result


def without_echoes(person: Person, times: Mapping[RecordKey, datetime]) -> Person:
    """`person` with each echoed record's modified time set back to before our write."""
    if not times:
        return person
    records = tuple(
        replace(r, modified_at=times[k]) if (k := (r.crm.value, r.object_type, r.record_id)) in times else r
        for r in person.records
    )
    return replace(person, records=records)
