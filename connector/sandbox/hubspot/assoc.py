"""Associations v4 and the metadata routes (properties, deal pipelines) the connector reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.sandbox.base import ApiError, Request, Response
from connector.sandbox.hubspot.schema import (
    ASSOCIATIONS,
    DEAL_STAGES,
    ENUMS,
    PROPERTIES,
    TYPE_ID_PAIRS,
    iso,
    object_type,
)
from connector.sandbox.hubspot.store import Store, not_found

if TYPE_CHECKING:
    from connector.sandbox.hubspot.app import HubSpotApp

ASSOC_BATCH_MAX = 1000
EPOCH = iso(datetime(2020, 1, 1, tzinfo=UTC))


def _kinds(m: re.Match[str], a: str, b: str) -> tuple[str, str]:
    try:
        return object_type(m[a]), object_type(m[b])
    except KeyError as exc:
        raise ApiError(404, {"message": f"Unknown object type in {m.group(0)}"}) from exc


def _types(type_ids: set[int]) -> list[dict[str, Any]]:
    """Unlabeled HubSpot-defined types; `label` is left out rather than null (the spec types it string)."""
    return [{"category": "HUBSPOT_DEFINED", "typeId": t} for t in sorted(type_ids)]


class AssociationRoutes:
    def __init__(self, app: HubSpotApp) -> None:
        self.app = app
        obj = r"/crm/v4/objects/(?P<from>[\w-]+)/(?P<id>\d+)/associations/"
        app.add("PUT", obj + r"default/(?P<to>[\w-]+)/(?P<toId>\d+)", self.put_default)
        app.add("PUT", obj + r"(?P<to>[\w-]+)/(?P<toId>\d+)", self.put)
        app.add("GET", obj + r"(?P<to>[\w-]+)", self.list)
        app.add("POST", r"/crm/v4/associations/(?P<from>[\w-]+)/(?P<to>[\w-]+)/batch/read", self.batch_read)
        app.add("GET", r"/crm/v3/properties/(?P<type>[\w-]+)", self.properties)
        app.add("GET", r"/crm/v3/pipelines/deals", self.pipelines)

    @property
    def store(self) -> Store:
        return self.app.store

    def _link(self, m: re.Match[str], type_ids: list[int]) -> dict[str, Any]:
        src, dst = _kinds(m, "from", "to")
        if self.store.get(src, int(m["id"])) is None:
            raise not_found(src[:-1], [m["id"]])
        for tid in type_ids:
            if TYPE_ID_PAIRS.get(tid) != (src, dst):
                raise ApiError(
                    400, {"category": "VALIDATION_ERROR", "message": f"{tid} is not valid for {src}->{dst}"}
                )
            self.store.associate(src, int(m["id"]), dst, int(m["toId"]), tid)
        return {
            "fromObjectTypeId": src,
            "fromObjectId": m["id"],
            "toObjectTypeId": dst,
            "toObjectId": m["toId"],
            "labels": [],
        }

    def put(self, req: Request, m: re.Match[str]) -> Response:
        specs = req.json() or []
        ids = [int(s.get("associationTypeId") or 0) for s in specs]
        return Response(201, self._link(m, ids), records_in=1)

    def put_default(self, req: Request, m: re.Match[str]) -> Response:
        src, dst = _kinds(m, "from", "to")
        if (src, dst) not in ASSOCIATIONS:
            raise ApiError(400, {"category": "VALIDATION_ERROR", "message": f"No association {src}->{dst}"})
        self._link(m, [ASSOCIATIONS[(src, dst)][0]])
        result = {
            "from": {"id": m["id"]},
            "to": {"id": m["toId"]},
            "associationSpec": {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": ASSOCIATIONS[(src, dst)][0],
            },
        }
        now = iso(datetime.now(UTC))
        body = {"status": "COMPLETE", "results": [result], "startedAt": now, "completedAt": now}
        return Response(200, body, records_in=1)

    def list(self, req: Request, m: re.Match[str]) -> Response:
        src, dst = _kinds(m, "from", "to")
        links = self.store.associations(src, int(m["id"]), dst)
        results = [{"toObjectId": str(i), "associationTypes": _types(t)} for i, t in sorted(links.items())]
        return Response(200, {"results": results}, records_out=len(results))

    def batch_read(self, req: Request, m: re.Match[str]) -> Response:
        src, dst = _kinds(m, "from", "to")
        inputs = (req.json() or {}).get("inputs") or []
        if len(inputs) > ASSOC_BATCH_MAX:
            raise ApiError(
                400, {"category": "VALIDATION_ERROR", "message": f"at most {ASSOC_BATCH_MAX} inputs"}
            )
        results, missing = [], []
        for item in inputs:
            rid = str(item.get("id", ""))
            links = self.store.associations(src, int(rid), dst) if rid.isdigit() else {}
            if not links:
                missing.append(rid)
                continue
            to = [{"toObjectId": str(i), "associationTypes": _types(t)} for i, t in sorted(links.items())]
            results.append({"from": {"id": rid}, "to": to})
        now = iso(datetime.now(UTC))
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        status = 200
        if missing:
            status = 207
            body["numErrors"] = len(missing)
            body["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"No {dst} associations found for {src[:-1]} {rid}",
                    "context": {"fromObjectId": [rid]},
                }
                for rid in missing
            ]
        return Response(status, body, records_in=len(inputs), records_out=len(results))

    def properties(self, req: Request, m: re.Match[str]) -> Response:
        try:
            kind = object_type(m["type"])
        except KeyError as exc:
            raise ApiError(404, {"message": f"Unknown object type {m['type']}"}) from exc
        results = []
        for name, (ptype, field_type) in PROPERTIES[kind].items():
            options = ENUMS.get((kind, name), ())
            results.append(
                {
                    "name": name,
                    "label": name.replace("_", " ").title(),
                    "type": ptype,
                    "fieldType": field_type,
                    "groupName": f"{kind[:-1]}information",
                    "description": "",
                    "hidden": False,
                    "hasUniqueValue": False,
                    "calculated": name == "hs_object_id",
                    "formField": False,
                    "createdAt": EPOCH,
                    "updatedAt": EPOCH,
                    "archived": False,
                    "options": [
                        {"label": v, "value": v, "displayOrder": i, "hidden": False}
                        for i, v in enumerate(options)
                    ],
                }
            )
        return Response(200, {"results": results})

    def pipelines(self, req: Request, m: re.Match[str]) -> Response:
        stages = [
            {
                "id": sid,
                "label": label,
                "displayOrder": i,
                "archived": False,
                "createdAt": EPOCH,
                "updatedAt": EPOCH,
                "metadata": {"isClosed": "true" if closed else "false", "probability": prob},
            }
            for i, (sid, label, prob, closed) in enumerate(DEAL_STAGES)
        ]
        pipeline = {
            "id": "default",
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "archived": False,
            "createdAt": EPOCH,
            "updatedAt": EPOCH,
            "stages": stages,
        }
        return Response(200, {"results": [pipeline]})
