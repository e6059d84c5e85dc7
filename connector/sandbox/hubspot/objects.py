"""CRM v3 object routes: list, create, get, update, archive, search, plus shared record rendering."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from connector.sandbox.base import ApiError, Request, Response
from connector.sandbox.hubspot import search
from connector.sandbox.hubspot.schema import ASSOCIATIONS, DEFAULT_PROPS, TYPE_ID_PAIRS, object_type
from connector.sandbox.hubspot.store import Record, Store, not_found

if TYPE_CHECKING:
    from connector.sandbox.hubspot.app import HubSpotApp

PAGE_MAX = 100
TYPES = r"(?P<type>contacts|deals|tasks|0-1|0-3|0-27)"


def multi(req: Request, name: str) -> list[str]:
    """Repeated keys (what the client sends) and comma-separated values (what the spec says)."""
    return [part for value in req.query.get(name, []) for part in value.split(",") if part]


def flag(req: Request, name: str) -> bool:
    return (req.arg(name) or "false").lower() == "true"


def kind_of(match: re.Match[str]) -> str:
    try:
        return object_type(match["type"])
    except KeyError as exc:
        raise ApiError(404, {"message": f"Unknown object type {match['type']}"}) from exc


def render(store: Store, rec: Record, props: list[str] | None, assoc: list[str]) -> dict[str, Any]:
    """A record as HubSpot returns it; asked-for but unset properties come back as null."""
    body = rec.to_json(props or list(DEFAULT_PROPS[rec.type]))
    links: dict[str, Any] = {}
    for raw in assoc:
        try:
            to = object_type(raw)
        except KeyError:
            continue
        if (rec.type, to) not in ASSOCIATIONS:
            continue
        label = ASSOCIATIONS[(rec.type, to)][1]
        found = store.associations(rec.type, rec.id, to)
        if found:
            links[to] = {"results": [{"id": str(i), "type": label} for i in sorted(found)]}
    if links:
        body["associations"] = links
    return body


def inline_associations(store: Store, rec: Record, items: list[dict[str, Any]]) -> None:
    """`associations:[{to:{id}, types:[{associationCategory, associationTypeId}]}]` on create."""
    for item in items or []:
        to_id = str((item.get("to") or {}).get("id", ""))
        for t in item.get("types") or [{}]:
            pair = TYPE_ID_PAIRS.get(int(t.get("associationTypeId") or 0))
            if pair is None or pair[0] != rec.type or not to_id.isdigit():
                raise ApiError(
                    400,
                    {
                        "category": "VALIDATION_ERROR",
                        "message": f"Invalid association type {t.get('associationTypeId')} "
                        f"from {rec.type} to {to_id}",
                    },
                )
            store.associate(rec.type, rec.id, pair[1], int(to_id), int(t["associationTypeId"]))


class ObjectRoutes:
    def __init__(self, app: HubSpotApp) -> None:
        self.app = app
        base = r"/crm/v3/objects/" + TYPES
        app.add("GET", base, self.list)
        app.add("POST", base, self.create)
        app.add("POST", base + r"/search", self.search)
        app.add("POST", r"/crm/v3/objects/(?P<type>contacts)/merge", self.merge)
        app.add("GET", base + r"/(?P<id>[^/]+)", self.get)
        app.add("PATCH", base + r"/(?P<id>[^/]+)", self.update)
        app.add("DELETE", base + r"/(?P<id>[^/]+)", self.delete)

    @property
    def store(self) -> Store:
        return self.app.store

    def list(self, req: Request, m: re.Match[str]) -> Response:
        kind = kind_of(m)
        limit = int(req.arg("limit") or 10)
        if not 1 <= limit <= PAGE_MAX:
            raise ApiError(
                400, {"category": "VALIDATION_ERROR", "message": f"limit must be between 1 and {PAGE_MAX}"}
            )
        after = req.arg("after") or "0"
        if not after.isdigit():
            raise ApiError(400, {"category": "VALIDATION_ERROR", "message": f"invalid after cursor {after}"})
        archived = flag(req, "archived")
        start = int(after)
        with self.store.lock:
            page: list[Record] = []
            more = None
            for rid in sorted(self.store.records[kind]):
                rec = self.store.records[kind][rid]
                if rid < start or rec.archived != archived:
                    continue
                if len(page) == limit:
                    more = rid
                    break
                page.append(rec)
            props, assoc = multi(req, "properties") or None, multi(req, "associations")
            body: dict[str, Any] = {"results": [render(self.store, r, props, assoc) for r in page]}
        if more is not None:
            body["paging"] = {"next": {"after": str(more), "link": f"?after={more}"}}
        return Response(200, body, records_out=len(page))

    def get(self, req: Request, m: re.Match[str]) -> Response:
        kind = kind_of(m)
        rec = self.store.resolve(kind, unquote(m["id"]), req.arg("idProperty"))
        if rec is None or rec.archived != flag(req, "archived"):
            raise not_found(kind[:-1], [m["id"]])
        props = multi(req, "properties") or None
        return Response(200, render(self.store, rec, props, multi(req, "associations")), records_out=1)

    def create(self, req: Request, m: re.Match[str]) -> Response:
        kind = kind_of(m)
        body = req.json() or {}
        with self.store.lock:
            rec = self.store.create(kind, body.get("properties") or {})
            inline_associations(self.store, rec, body.get("associations") or [])
        return Response(201, rec.to_json(), records_in=1, records_out=1)

    def update(self, req: Request, m: re.Match[str]) -> Response:
        kind = kind_of(m)
        rec = self.store.resolve(kind, unquote(m["id"]), req.arg("idProperty"))
        if rec is None:
            raise not_found(kind[:-1], [m["id"]])
        rec = self.store.update(kind, rec.id, (req.json() or {}).get("properties") or {})
        return Response(200, rec.to_json(), records_in=1, records_out=1)

    def delete(self, req: Request, m: re.Match[str]) -> Response:
        kind = kind_of(m)
        rec = self.store.resolve(kind, m["id"], None)
        if rec is not None:
            self.store.archive(kind, rec.id)
        return Response(204, records_in=1)

    def search(self, req: Request, m: re.Match[str]) -> Response:
        body, count = search.run(self.store, kind_of(m), req.json() or {})
        return Response(200, body, records_out=count)

    def merge(self, req: Request, m: re.Match[str]) -> Response:
        """`{primaryObjectId, objectIdToMerge}`: the loser's id resolves to the winner afterwards."""
        body = req.json() or {}
        try:
            winner = self.store.merge(int(body["primaryObjectId"]), int(body["objectIdToMerge"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise ApiError(
                400, {"category": "VALIDATION_ERROR", "message": f"bad merge input: {exc!r}"}
            ) from exc
        return Response(200, winner.to_json(), records_in=2, records_out=1)
