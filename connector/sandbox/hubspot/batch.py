"""CRM v3 batch routes: read, create, update, upsert, archive (<= 100 inputs, 207 on partial errors)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.sandbox.base import ApiError, Request, Response
from connector.sandbox.hubspot.objects import TYPES, inline_associations, kind_of, render
from connector.sandbox.hubspot.schema import SINGULAR, iso
from connector.sandbox.hubspot.store import Record, Store

if TYPE_CHECKING:
    from connector.sandbox.hubspot.app import HubSpotApp

BATCH_MAX = 100


def _inputs(req: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    body = req.json() or {}
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise ApiError(400, {"category": "VALIDATION_ERROR", "message": "inputs must be a list"})
    if len(inputs) > BATCH_MAX:
        raise ApiError(
            400,
            {
                "category": "VALIDATION_ERROR",
                "message": f"Batch input limit exceeded: {len(inputs)} inputs given, "
                f"at most {BATCH_MAX} allowed",
                "context": {"maxInputs": [str(BATCH_MAX)]},
            },
        )
    return body, inputs


def _answer(ok_status: int, started: datetime, results: list[Any], missing: list[str], kind: str) -> Response:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(datetime.now(UTC)),
    }
    status = ok_status
    if missing:
        status = 207
        body["numErrors"] = 1
        body["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {SINGULAR[kind].upper()} objects, they may be deleted or not "
                "exist. Check that ids are valid.",
                "context": {"ids": missing},
            }
        ]
    return Response(status, body, records_out=len(results))


class BatchRoutes:
    def __init__(self, app: HubSpotApp) -> None:
        self.app = app
        base = r"/crm/v3/objects/" + TYPES + r"/batch/"
        for op in ("read", "create", "update", "upsert", "archive"):
            app.add("POST", base + op, getattr(self, op))

    @property
    def store(self) -> Store:
        return self.app.store

    def read(self, req: Request, m: re.Match[str]) -> Response:
        kind, started = kind_of(m), datetime.now(UTC)
        body, inputs = _inputs(req)
        props = [str(p) for p in body.get("properties") or []] or None
        id_prop = body.get("idProperty")
        found: dict[int, Record] = {}
        missing = []
        for item in inputs:
            rec = self.store.resolve(kind, str(item.get("id", "")), id_prop)
            if rec is None:
                missing.append(str(item.get("id")))
            else:
                found[rec.id] = rec
        results = [render(self.store, r, props, []) for r in found.values()]
        resp = _answer(200, started, results, missing, kind)
        resp.records_in = len(inputs)
        return resp

    def create(self, req: Request, m: re.Match[str]) -> Response:
        kind, started = kind_of(m), datetime.now(UTC)
        _, inputs = _inputs(req)
        with self.store.lock:  # all or nothing, like HubSpot: validate every input first
            for item in inputs:
                self.store.validate(kind, item.get("properties") or {}, creating=True)
            made = []
            for item in inputs:
                rec = self.store.create(kind, item.get("properties") or {})
                inline_associations(self.store, rec, item.get("associations") or [])
                made.append(rec.to_json())
        resp = _answer(201, started, made, [], kind)
        resp.records_in = len(inputs)
        return resp

    def update(self, req: Request, m: re.Match[str]) -> Response:
        kind, started = kind_of(m), datetime.now(UTC)
        body, inputs = _inputs(req)
        results, missing = [], []
        for item in inputs:
            rec = self.store.resolve(
                kind, str(item.get("id", "")), item.get("idProperty") or body.get("idProperty")
            )
            if rec is None:
                missing.append(str(item.get("id")))
                continue
            results.append(self.store.update(kind, rec.id, item.get("properties") or {}).to_json())
        resp = _answer(200, started, results, missing, kind)
        resp.records_in = len(inputs)
        return resp

    def upsert(self, req: Request, m: re.Match[str]) -> Response:
        kind, started = kind_of(m), datetime.now(UTC)
        _, inputs = _inputs(req)
        results = []
        with self.store.lock:
            for item in inputs:
                id_prop = item.get("idProperty") or "hs_object_id"
                raw_id = str(item.get("id", ""))
                props = dict(item.get("properties") or {})
                rec = self.store.resolve(kind, raw_id, id_prop)
                if rec is None:
                    if id_prop != "hs_object_id":
                        props.setdefault(id_prop, raw_id)
                    rec, new = self.store.create(kind, props), True
                else:
                    rec, new = self.store.update(kind, rec.id, props), False
                results.append({**rec.to_json(), "new": new})
        resp = _answer(200, started, results, [], kind)
        resp.records_in = len(inputs)
        return resp

    def archive(self, req: Request, m: re.Match[str]) -> Response:
        kind = kind_of(m)
        _, inputs = _inputs(req)
        for item in inputs:
            rec = self.store.resolve(kind, str(item.get("id", "")), None)
            if rec is not None:
                self.store.archive(kind, rec.id)
        return Response(204, records_in=len(inputs))
