"""CRM search: filterGroups (ORed) of filters (ANDed), sorts, offset paging and the 10,000 cap.

Search reads each record's indexed snapshot, not its live properties, so `index_delay` makes
fresh writes invisible for a while, as on the real API.

Why searches are planned: the connector pages by re-anchoring (`cursor >= lo AND cursor <= hi AND
hs_object_id > last_id`, sorted by hs_object_id, after=0), so every page is a new filter and a
per-filter cache misses every time, turning a pull into a scan per page. When every group carries
the same hs_object_id bounds and the order is id order, the bounds are taken out of the query:
the rest is matched (and cached) once per window, and each page is two bisections into that
id-ordered list, with the exact `total`.
"""

from __future__ import annotations

import json
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from connector.sandbox.base import ApiError
from connector.sandbox.hubspot.filters import KNOWN_OPERATORS, RANGE, compile_groups, name_and_op
from connector.sandbox.hubspot.schema import DEFAULT_PROPS, sortable
from connector.sandbox.hubspot.store import Record, Snapshot, Store

MAX_LIMIT = 200
RESULT_CAP = 10_000
CACHE_ENTRIES = 16
ID_ASC = ("hs_object_id", False)

Hit = tuple[Record, Snapshot]
Bound = tuple[str, float]  # (operator in RANGE, value) on hs_object_id
# Bisection that finds where a bound falls in an id-ordered hit list, per operator.
_BISECT: dict[str, Callable[[list[Hit], float], int]] = {
    "GT": lambda hits, v: bisect_right(hits, v, key=_hit_id),
    "GTE": lambda hits, v: bisect_left(hits, v, key=_hit_id),
    "LT": lambda hits, v: bisect_left(hits, v, key=_hit_id),
    "LTE": lambda hits, v: bisect_right(hits, v, key=_hit_id),
}


def _hit_id(hit: Hit) -> int:
    return hit[0].id


def _sort_spec(raw: Any) -> tuple[str, bool]:
    """A sort is either "prop" / "-prop" (the spec's string form) or {propertyName, direction}."""
    if isinstance(raw, str):
        return raw.lstrip("-"), raw.startswith("-")
    return str(raw.get("propertyName")), str(raw.get("direction", "ASCENDING")).upper() == "DESCENDING"


def _query_match(props: dict[str, str | None], query: str) -> bool:
    text = " ".join(v for v in props.values() if v).lower()
    return all(word in text for word in query.lower().split())


def run(store: Store, kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Execute a search request; returns the response body and the number of records returned."""
    limit = int(body.get("limit") or 10)
    if limit > MAX_LIMIT or limit < 1:
        raise ApiError(400, {"category": "VALIDATION_ERROR", "message": f"limit must be <= {MAX_LIMIT}"})
    after = str(body.get("after") or "0")
    if not after.isdigit():
        raise ApiError(
            400, {"category": "VALIDATION_ERROR", "message": f"after must be numeric, got {after}"}
        )
    offset = int(after)
    if offset >= RESULT_CAP:
        raise ApiError(
            400,
            {
                "category": "VALIDATION_ERROR",
                "message": "There was a problem with the request. "
                f"Cannot page beyond {RESULT_CAP} results (after={offset}).",
                "subCategory": "PAGING_LIMIT_EXCEEDED",
            },
        )
    hits, start, stop = _hits(store, kind, body)
    names = [str(p) for p in body.get("properties") or []] or list(DEFAULT_PROPS[kind])
    total = stop - start
    page = hits[start + offset : min(start + offset + limit, stop)]
    results = [_project(rec, snap, names) for rec, snap in page]
    out: dict[str, Any] = {"total": total, "results": results}
    if offset + limit < total:
        out["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
    return out, len(results)


def _hits(store: Store, kind: str, body: dict[str, Any]) -> tuple[list[Hit], int, int]:
    """Matching records in order, as `hits[start:stop]` (not sliced: a slice would copy them)."""
    groups: list[dict[str, Any]] = body.get("filterGroups") or []
    sorts = [_sort_spec(s) for s in body.get("sorts") or []]
    plan = _id_bounds(store, kind, groups, sorts)
    bounds: list[Bound] = []
    if plan is not None:
        groups, bounds = plan
    hits = _matching(store, kind, groups, body, sorts)
    start, stop = 0, len(hits)
    for op, value in bounds:
        at = _BISECT[op](hits, value)
        start, stop = (max(start, at), stop) if op in {"GT", "GTE"} else (start, min(stop, at))
    return hits, start, max(start, stop)


def _id_bounds(
    store: Store, kind: str, groups: list[dict[str, Any]], sorts: list[tuple[str, bool]]
) -> tuple[list[dict[str, Any]], list[Bound]] | None:
    """The hs_object_id range filters every group shares, and the groups without them.

    None when the search cannot be answered by bisection: results not in id order, groups with
    different id bounds, a non-numeric bound, or an operator whose refusal depends on the data.
    """
    if not groups or kind in store.renumbered or (sorts and sorts[0] != ID_ASC):
        return None
    stripped: list[dict[str, Any]] = []
    shared: set[Bound] | None = None
    for group in groups:
        rest: list[dict[str, Any]] = []
        bounds: set[Bound] = set()
        for flt in group.get("filters") or []:
            name, op = name_and_op(flt)
            if op not in KNOWN_OPERATORS:
                return None
            if name != "hs_object_id" or op not in RANGE:
                rest.append(flt)
                continue
            value = sortable(name, str(flt.get("value", "")))
            if not isinstance(value, float):
                return None
            bounds.add((op, value))
        if not bounds or shared not in (None, bounds):
            return None
        shared = bounds
        stripped.append({**group, "filters": rest})
    return stripped, sorted(shared or ())


def _matching(
    store: Store, kind: str, groups: list[dict[str, Any]], body: dict[str, Any], sorts: list[tuple[str, bool]]
) -> list[Hit]:
    """Visible matching records in order; cached until a write to `kind` or a delayed snapshot surfaces."""
    query = str(body.get("query") or "")
    key = json.dumps([kind, groups, query, body.get("sorts")], sort_keys=True, default=str)
    with store.lock:
        now = time.monotonic()
        cached = store.search_cache.get(key)
        if cached is not None and cached[0] == store.versions[kind] and now < cached[1]:
            hits: list[Hit] = cached[2]
            return hits
        match = compile_groups(groups)
        hits = []
        for rec in store.records[kind].values():
            snap = rec.search_view(now) if rec.pending else rec.indexed
            if snap is None or snap.archived:
                continue
            if match is not None and not match(snap):
                continue
            if query and not _query_match(snap.props, query):
                continue
            hits.append((rec, snap))
        version, valid_until = store.versions[kind], store.visible_until(kind, now)
    # Records are kept in id order (ids only grow), so an id-first sort has nothing to do.
    if not (sorts and sorts[0] == ID_ASC and kind not in store.renumbered):
        for name, desc in reversed(sorts):
            present = [h for h in hits if h[1].key(name) is not None]
            missing = [h for h in hits if h[1].key(name) is None]
            present.sort(key=lambda h: h[1].key(name), reverse=desc)  # type: ignore[arg-type,return-value]
            hits = present + missing  # HubSpot puts empty values last
    with store.lock:
        if len(store.search_cache) >= CACHE_ENTRIES:
            store.search_cache.clear()
        store.search_cache[key] = (version, valid_until, hits)
    return hits


def _project(rec: Record, snap: Snapshot, names: list[str]) -> dict[str, Any]:
    body = rec.to_json([])  # the envelope only: properties come from the indexed snapshot
    body["properties"] = {n: snap.props.get(n) for n in names}
    return body
