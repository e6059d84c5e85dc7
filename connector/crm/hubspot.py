"""HubSpot read side: CRM search re-anchored on hs_object_id, batched associations, archived sweeps.

Why search is re-anchored on every page (BEHAVIOR.md "Search window"): each request filters
`cursor >= lo AND cursor <= hi AND hs_object_id > last_id`, sorted by hs_object_id, with after=0.
The paging offset therefore never grows, so the 10,000-result cap cannot be reached, records
sharing one timestamp cannot loop (the id strictly increases), and the resume key committed with
each page is exactly the next query — a killed pull resumes without an offset to trust. It costs
the same ⌈N/200⌉ calls as following `paging.next.after`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.crm.clients import HubSpotConnection
from connector.crm.protocol import Known, Page, Quota, ResumeKey, Window, drop_known, parse_crm_time
from connector.crm.streams import Stream, streams_for
from connector.errors import FatalError, SkippableRecord
from connector.model import Crm, SourceRecord, source_record

log = logging.getLogger(__name__)

SEARCH_PAGE = 200  # the search maximum (facts §1)
LIST_PAGE = 100  # the list maximum (facts §1, PAGE_MAX_SIZE)
ASSOC_BATCH = 1000  # v4 associations batch read maximum (reliability §1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(at: datetime) -> str:
    """Epoch milliseconds, exactly (float timestamps can drop the last millisecond)."""
    return str((at - _EPOCH) // timedelta(milliseconds=1))


def search_body(stream: Stream, window: Window, after_id: str | None, limit: int) -> dict[str, Any]:
    """The search request for one page: the fixed window, then ids strictly after the last one."""
    filters: list[dict[str, Any]] = [
        {"propertyName": stream.cursor_field, "operator": "LTE", "value": _ms(window.hi)}
    ]
    if window.lo is not None:
        filters.append({"propertyName": stream.cursor_field, "operator": "GTE", "value": _ms(window.lo)})
    if after_id is not None:
        filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after_id})
    return {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": list(stream.properties),
        "limit": limit,
        "after": "0",
    }


class HubSpotReader:
    """Pulls the HubSpot streams of the table with the fewest calls the API allows."""

    crm = Crm.HUBSPOT

    def __init__(
        self,
        conn: HubSpotConnection,
        *,
        page_size: int = SEARCH_PAGE,
        assoc_batch: int = ASSOC_BATCH,
        streams: tuple[Stream, ...] | None = None,
    ) -> None:
        self.conn = conn
        self.page_size = min(page_size, SEARCH_PAGE)
        self.assoc_batch = min(assoc_batch, ASSOC_BATCH)
        self._streams = streams if streams is not None else streams_for(Crm.HUBSPOT)
        for path in self._api_paths():  # built (and their ~200 generated modules imported) up front
            conn.api(path)

    @property
    def streams(self) -> tuple[Stream, ...]:
        return self._streams

    def _api_paths(self) -> list[str]:
        """The generated API objects the streams call: changes search, archived list, associations."""
        paths = [
            f"crm.{s.object}.{'basic_api' if s.kind == 'archived' else 'search_api'}" for s in self._streams
        ]
        if any(s.associations for s in self._streams):
            paths.append("crm.associations.v4.batch_api")
        return list(dict.fromkeys(paths))

    @property
    def api_calls(self) -> int:
        return self.conn.calls

    def quota(self) -> Quota:
        headers = self.conn.last_headers
        daily = headers.get("X-HubSpot-RateLimit-Daily")
        remaining = headers.get("X-HubSpot-RateLimit-Daily-Remaining")
        if daily is None or remaining is None:
            return Quota()
        return Quota(used=int(daily) - int(remaining), limit=int(daily))

    def pull(self, stream: Stream, window: Window, known: Known | None = None) -> Iterator[Page]:
        if stream.kind == "archived":
            return self._archived(stream, window)
        return self._changes(stream, window, known)

    @staticmethod
    def _key(stream: Stream) -> Callable[[dict[str, Any]], tuple[str, datetime | None]]:
        """(id, modification time) of a raw search result, for the overlap check."""

        def key(raw: dict[str, Any]) -> tuple[str, datetime | None]:
            try:
                return str(raw.get("id")), parse_crm_time(
                    (raw.get("properties") or {}).get(stream.cursor_field)
                )
            except ValueError:
                return str(raw.get("id")), None

        return key

    # ---- records ------------------------------------------------------------------------------
    def _record(
        self, stream: Stream, raw: dict[str, Any], assoc: dict[str, tuple[str, ...]] | None
    ) -> SourceRecord:
        props: dict[str, str | None] = raw.get("properties") or {}
        rid = str(raw.get("id") or "")
        if not rid:
            raise SkippableRecord(f"{stream.name}: record without id", field="id")
        try:
            modified = parse_crm_time(props.get(stream.cursor_field)) or parse_crm_time(raw.get("updatedAt"))
            if stream.kind == "archived":
                modified = parse_crm_time(raw.get("archivedAt")) or modified
        except ValueError as exc:
            raise SkippableRecord(
                f"{stream.name} {rid}: bad {stream.cursor_field}: {exc}",
                record_id=rid,
                field=stream.cursor_field,
            ) from exc
        if modified is None:
            raise SkippableRecord(
                f"{stream.name} {rid}: no {stream.cursor_field}", record_id=rid, field=stream.cursor_field
            )
        archived = bool(raw.get("archived", False)) or stream.kind == "archived"
        return source_record(Crm.HUBSPOT, stream.object, rid, props, modified, archived, assoc or {})

    def _build(
        self, stream: Stream, raws: list[dict[str, Any]], assoc: dict[str, dict[str, tuple[str, ...]]]
    ) -> tuple[list[SourceRecord], datetime | None, int]:
        """Records, their max cursor value, and how many were skipped (undatable: cannot be versioned)."""
        out: list[SourceRecord] = []
        skipped = 0
        for raw in raws:
            try:
                out.append(self._record(stream, raw, assoc.get(str(raw.get("id")))))
            except SkippableRecord as exc:
                log.warning("skipped: %s", exc)
                skipped += 1
        max_seen = max((r.modified_at for r in out), default=None)
        return out, max_seen, skipped

    # ---- incremental search -------------------------------------------------------------------
    def _search(self, stream: Stream, window: Window, after_id: str | None) -> dict[str, Any]:
        body = search_body(stream, window, after_id, self.page_size)
        resp = self.conn.call_json(
            f"crm.{stream.object}.search_api", "do_search", public_object_search_request=body
        )
        if not isinstance(resp, dict):
            raise FatalError(f"{stream.name}: search answered {type(resp).__name__}, not an object")
        return resp

    def _changes(self, stream: Stream, window: Window, known: Known | None) -> Iterator[Page]:
        after_id = window.after.token if window.after else None
        buffered: list[dict[str, Any]] = []
        calls = 0
        while True:
            resp = self._search(stream, window, after_id)
            calls += 1
            results: list[dict[str, Any]] = resp.get("results") or []
            total = resp.get("total")
            remaining = max(0, int(total) - len(results)) if total is not None else None
            if results:
                after_id = str(results[-1]["id"])
            fresh = drop_known(stream, results, self._key(stream), window, known)
            # Continue while HubSpot says there is more, even after a short page (reliability §5).
            last = not results or not (resp.get("paging") or {}).get("next")
            buffered.extend(fresh)
            # Deals wait until one association batch (≤1000 ids) is full: ⌈N/1000⌉ association calls.
            if stream.associations and not last and len(buffered) + self.page_size <= self.assoc_batch:
                continue
            assoc: dict[str, dict[str, tuple[str, ...]]] = {}
            if stream.associations and buffered:
                for to_type in stream.associations:
                    calls += 1
                    for rid, ids in self._associations(stream.object, to_type, buffered).items():
                        assoc.setdefault(rid, {})[to_type] = ids
            records, max_seen, skipped = self._build(stream, buffered, assoc)
            key = ResumeKey(after_id) if after_id is not None else window.after
            yield Page(records, key, max_seen, last, calls, remaining, skipped)
            buffered, calls = [], 0
            if last:
                return

    def _associations(
        self, from_type: str, to_type: str, raws: list[dict[str, Any]]
    ) -> dict[str, tuple[str, ...]]:
        """One v4 batch read for the whole page; never a call per record."""
        body = {"inputs": [{"id": str(r["id"])} for r in raws]}
        resp = self.conn.call_json(
            "crm.associations.v4.batch_api",
            "get_page",
            from_object_type=from_type,
            to_object_type=to_type,
            batch_input_public_fetch_associations_batch_request=body,
        )
        out: dict[str, tuple[str, ...]] = {}
        for item in (resp or {}).get("results") or []:
            rid = str((item.get("from") or {}).get("id"))
            out[rid] = tuple(sorted({str(t["toObjectId"]) for t in item.get("to") or []}))
        # Ids absent from results (207 "no associations") have none: record that explicitly.
        for raw in raws:
            out.setdefault(str(raw["id"]), ())
        return out

    # ---- archived sweep -----------------------------------------------------------------------
    def _archived(self, stream: Stream, window: Window) -> Iterator[Page]:
        """List archived records (search cannot see them); only those archived since `lo` are kept."""
        token = window.after.token if window.after else None
        while True:
            kwargs: dict[str, Any] = {
                "limit": LIST_PAGE,
                "archived": True,
                "properties": list(stream.properties),
            }
            if token:
                kwargs["after"] = token
            resp = self.conn.call_json(f"crm.{stream.object}.basic_api", "get_page", **kwargs) or {}
            nxt = ((resp.get("paging") or {}).get("next") or {}).get("after")
            records, max_seen, skipped = self._build(stream, resp.get("results") or [], {})
            if window.lo is not None:
                records = [r for r in records if r.modified_at >= window.lo]
            token = str(nxt) if nxt else None
            key = ResumeKey(token) if token else None
            yield Page(records, key, max_seen, token is None, 1, skipped=skipped)
            if token is None:
                return
