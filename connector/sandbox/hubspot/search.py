"""CRM search: filterGroups (ORed) of filters (ANDed), sorts, offset paging and the 10,000 cap.

Search reads each record's indexed snapshot, not its live properties, so `index_delay` makes
fresh writes invisible for a while, as on the real API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from connector.sandbox.base import ApiError
from connector.sandbox.hubspot.schema import DEFAULT_PROPS, sortable
from connector.sandbox.hubspot.store import Props, Record, Store

MAX_LIMIT = 200
RESULT_CAP = 10_000

Key = float | str | None


def _cmp(op: str) -> Callable[[Any, Any], bool]:
    table: dict[str, Callable[[Any, Any], bool]] = {
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
    }
    return table[op]


def _matches(props: Props, flt: dict[str, Any]) -> bool:
    name = str(flt.get("propertyName", ""))
    op = str(flt.get("operator", "EQ")).upper()
    raw = props.get(name)
    have = sortable(name, raw)
    if op == "HAS_PROPERTY":
        return raw not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return raw in (None, "")
    if op in {"IN", "NOT_IN"}:
        wanted = {sortable(name, str(v)) for v in flt.get("values") or []}
        return (have in wanted) == (op == "IN") if have is not None else op == "NOT_IN"
    if op in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
        token = str(flt.get("value", "")).lower().strip("*")
        found = token in (raw or "").lower()
        return found == (op == "CONTAINS_TOKEN")
    want = sortable(name, str(flt.get("value", "")))
    if op == "EQ":
        return have == want
    if op == "NEQ":
        return have != want
    if have is None or want is None or type(have) is not type(want):
        return False
    if op == "BETWEEN":
        high = sortable(name, str(flt.get("highValue", "")))
        return high is not None and type(high) is type(have) and want <= have <= high  # type: ignore[operator]
    if op in {"LT", "LTE", "GT", "GTE"}:
        return _cmp(op)(have, want)
    raise ApiError(400, {"category": "VALIDATION_ERROR", "message": f"Unsupported operator {op}"})


def _sort_spec(raw: Any) -> tuple[str, bool]:
    """A sort is either "prop" / "-prop" (the spec's string form) or {propertyName, direction}."""
    if isinstance(raw, str):
        return raw.lstrip("-"), raw.startswith("-")
    return str(raw.get("propertyName")), str(raw.get("direction", "ASCENDING")).upper() == "DESCENDING"


def _query_match(props: Props, query: str) -> bool:
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
    hits = _hits(store, kind, body)
    names = [str(p) for p in body.get("properties") or []] or list(DEFAULT_PROPS[kind])
    page = hits[offset : offset + limit]
    results = [_project(rec, props, names) for rec, props in page]
    out: dict[str, Any] = {"total": len(hits), "results": results}
    if offset + limit < len(hits):
        out["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
    return out, len(results)


def _hits(store: Store, kind: str, body: dict[str, Any]) -> list[tuple[Record, Props]]:
    """Matching records in order; cached per query until the next write so paging stays cheap."""
    groups = body.get("filterGroups") or []
    key = json.dumps([kind, groups, body.get("query"), body.get("sorts")], sort_keys=True, default=str)
    cacheable = store.index_delay <= 0  # with a delay, visibility changes without a write
    with store.lock:
        version = store.version
        cached = store.search_cache.get(key)
        if cacheable and cached is not None and cached[0] == version:
            return cached[1]
    query = str(body.get("query") or "")
    sorts = [_sort_spec(s) for s in body.get("sorts") or []]
    now = time.monotonic()
    with store.lock:
        hits: list[tuple[Record, Props]] = []
        for rec in store.records[kind].values():
            snap = rec.search_view(now)
            if snap is None or snap.archived:
                continue
            if groups and not any(
                all(_matches(snap.props, f) for f in g.get("filters") or []) for g in groups
            ):
                continue
            if query and not _query_match(snap.props, query):
                continue
            hits.append((rec, snap.props))
    for name, desc in reversed(sorts):
        present = [h for h in hits if sortable(name, h[1].get(name)) is not None]
        missing = [h for h in hits if sortable(name, h[1].get(name)) is None]
        present.sort(key=lambda h: sortable(name, h[1].get(name)), reverse=desc)  # type: ignore[arg-type,return-value]
        hits = present + missing  # HubSpot puts empty values last
    if cacheable:
        with store.lock:
            if len(store.search_cache) > 32:
                store.search_cache.clear()
            store.search_cache[key] = (version, hits)
    return hits


def _project(rec: Record, props: Props, names: list[str]) -> dict[str, Any]:
    body = rec.to_json(names)
    body["properties"] = {n: props.get(n) for n in names}
    return body
