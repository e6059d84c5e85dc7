"""Salesforce read side: queryAll on a compound (SystemModstamp, Id) cursor, fields checked by describe.

queryAll (include_deleted) is used so that deletions arrive as rows with IsDeleted=true and merges
as deleted losers carrying MasterRecordId; a converted Lead arrives with IsConverted and
ConvertedContactId set, which the mirror uses to link the Lead to its Contact.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from simple_salesforce.api import Salesforce

from connector.crm.clients import SalesforceConnection
from connector.crm.protocol import Known, Page, Quota, ResumeKey, Window, drop_known, parse_crm_time
from connector.crm.soql import changes_query, checked_fields
from connector.crm.streams import Stream, streams_for
from connector.errors import FatalError
from connector.model import Crm, SourceRecord, source_record


def _text(value: Any) -> str | None:
    """Salesforce JSON values as the strings SourceRecord holds (booleans as SOQL spells them)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SalesforceReader:
    """Pulls the Salesforce streams of the table, one REST query page (≤2000 records) per call."""

    crm = Crm.SALESFORCE

    def __init__(self, conn: SalesforceConnection, *, streams: tuple[Stream, ...] | None = None) -> None:
        self.conn = conn
        self._streams = streams if streams is not None else streams_for(Crm.SALESFORCE)

    @property
    def streams(self) -> tuple[Stream, ...]:
        return self._streams

    @property
    def api_calls(self) -> int:
        return self.conn.calls

    def quota(self) -> Quota:
        usage = self.conn.api_usage
        return Quota(used=usage[0], limit=usage[1]) if usage else Quota()

    def fields(self, stream: Stream) -> tuple[str, ...]:
        """The stream's fields, checked against the object's describe (fetched once per connection)."""
        names = self.conn.described.get(stream.object)
        if names is None:
            described = self.conn.call(
                lambda sf: getattr(sf, stream.object).describe(), what=f"describe {stream.object}"
            )
            names = tuple(str(f["name"]) for f in (described or {}).get("fields") or [])
            self.conn.described[stream.object] = names
        return checked_fields(stream.object, stream.properties, names, stream.optional)

    def pull(self, stream: Stream, window: Window, known: Known | None = None) -> Iterator[Page]:
        soql = changes_query(stream.object, self.fields(stream), stream.cursor_field, window)
        result = self.conn.call(
            lambda sf: sf.query(soql, include_deleted=True), what=f"queryAll {stream.object}"
        )
        remaining = int(result.get("totalSize") or 0)
        while True:
            rows: list[dict[str, Any]] = result.get("records") or []
            records = [self._record(stream, row) for row in rows]
            done = bool(result.get("done", True))
            key = (
                ResumeKey(records[-1].record_id, parse_crm_time(rows[-1].get(stream.cursor_field)))
                if records
                else window.after
            )
            max_seen = max((r.modified_at for r in records), default=None)
            remaining = max(0, remaining - len(records))
            fresh = drop_known(stream, records, lambda r: (r.record_id, r.modified_at), window, known)
            yield Page(fresh, key, max_seen, done, 1, remaining)
            if done:
                return
            next_url = result.get("nextRecordsUrl")
            if not next_url:
                raise FatalError(f"{stream.name}: query not done but no nextRecordsUrl")
            result = self.conn.call(partial(self._more, url=str(next_url)), what=f"queryMore {stream.object}")

    @staticmethod
    def _more(sf: Salesforce, url: str) -> Any:
        return sf.query_more(url, identifier_is_url=True)

    def _record(self, stream: Stream, row: dict[str, Any]) -> SourceRecord:
        modified = parse_crm_time(row.get(stream.cursor_field))
        rid = row.get("Id")
        if modified is None or not rid:
            # The query selects and orders by both; a row without them is a broken API, not data.
            raise FatalError(f"{stream.name}: row without Id or {stream.cursor_field}: {rid!r}")
        props: dict[str, Any] = dict(row)  # values are mostly str or None already: convert the rest
        props.pop("attributes", None)
        for name in [k for k, v in props.items() if v is not None and v.__class__ is not str]:
            value = props[name]  # booleans first: ~5 per row (IsDeleted, IsConverted...), no call
            props[name] = "true" if value is True else "false" if value is False else _text(value)
        return source_record(
            Crm.SALESFORCE, stream.object, str(rid), props, modified, row.get("IsDeleted") is True, {}
        )


__all__ = ["SalesforceReader"]
