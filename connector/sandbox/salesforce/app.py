"""The Salesforce REST sandbox: OAuth, SOQL query paging, sObject CRUD, collections, limits.

Routes mirror what simple-salesforce 1.12.10 sends (see crm-api-facts.md §7); every store access
happens under the app lock, so the threaded server never sees a half-applied write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from connector.sandbox.base import ApiError, Handler, Request, Response, SandboxApp
from connector.sandbox.world import World

from . import composite
from .activity import run_actions
from .describe import CANONICAL, FIELDS, SOBJECTS, describe
from .load import load_world
from .soql import Query, SoqlError, matches, parse, parse_datetime, sort_records
from .store import Record, RecordError, Store, fmt, make_id, to_json

V = r"/services/data/v(?P<v>\d+\.\d)"
SOB = V + r"/sobjects/(?P<t>\w+)"
DEFAULT_BATCH = 2000
MAX_CURSORS = 50
_STATUS_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "UNKNOWN_EXCEPTION",
    502: "SERVER_UNAVAILABLE",
    503: "SERVER_UNAVAILABLE",
}
INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@dataclass(slots=True)
class Cursor:
    sobject: str
    fields: tuple[str, ...]
    rows: list[Record]
    batch: int
    total: int


def _err(status: int, message: str, code: str, fields: list[str] | None = None) -> ApiError:
    body: dict[str, Any] = {"message": message, "errorCode": code}
    if fields:
        body["fields"] = fields
    return ApiError(status, [body])


def _record_error(exc: RecordError) -> ApiError:
    return _err(exc.status, exc.message, exc.code, exc.fields)


def _batch_size(req: Request) -> int:
    m = re.search(r"batchSize=(\d+)", req.headers.get("sforce-query-options", ""))
    return min(max(int(m.group(1)), 200), 2000) if m else DEFAULT_BATCH


class SalesforceApp(SandboxApp):
    name = "salesforce"

    def __init__(
        self,
        world: World | None,
        *,
        client_id: str,
        client_secret: str,
        seed: int,
        daily_limit: int,
        api_version: str,
    ) -> None:
        super().__init__(seed)
        self.world = world
        self.client_id = client_id
        self.client_secret = client_secret
        self.daily_limit = daily_limit
        self.api_version = api_version
        self._sign_key = secrets.token_bytes(16)
        self.tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.used = 0
        self.store = Store()
        self.ids: dict[str, str] = {}
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._locators = itertools.count(1)
        self.reset()
        table: list[tuple[str, str, Handler]] = [
            ("POST", r"/services/oauth2/token", self._token),
            ("GET", V + r"/limits", self._limits),
            ("GET", V + r"/sobjects", self._global_describe),
            ("GET", V + r"/(?P<kind>query|queryAll)/(?P<loc>01g\w+)-(?P<off>\d+)", self._query_more),
            ("GET", V + r"/(?P<kind>query|queryAll)", self._query),
            ("GET", SOB + r"/describe", self._describe),
            ("GET", SOB + r"/updated", self._updated),
            ("GET", SOB + r"/deleted", self._deleted),
            ("POST", SOB, self._create),
            ("GET", SOB + r"/(?P<id>[a-zA-Z0-9]{15}|[a-zA-Z0-9]{18})", self._get),
            ("PATCH", SOB + r"/(?P<id>[a-zA-Z0-9]{15}|[a-zA-Z0-9]{18})", self._update),
            ("DELETE", SOB + r"/(?P<id>[a-zA-Z0-9]{15}|[a-zA-Z0-9]{18})", self._delete),
            ("PATCH", SOB + r"/(?P<f>\w+)/(?P<val>[^/]+)", self._upsert),
            ("POST", V + r"/composite/sobjects", self._collection),
            ("PATCH", V + r"/composite/sobjects", self._collection),
            ("DELETE", V + r"/composite/sobjects", self._collection_delete),
            ("PATCH", V + r"/composite/sobjects/(?P<t>\w+)/(?P<f>\w+)", self._collection_upsert),
            ("POST", r"/__sandbox/tokens/expire", self._expire),
            ("POST", r"/__sandbox/activity", self._activity),
            ("POST", r"/__sandbox/usage", self._set_usage),
            ("GET", r"/__sandbox/ids", self._ids),
        ]
        for method, pattern, handler in table:
            self.add(method, pattern, self._locked(handler))

    def _locked(self, handler: Handler) -> Handler:
        def run(req: Request, m: re.Match[str]) -> Response:
            with self.lock:
                try:
                    return handler(req, m)
                except RecordError as exc:
                    raise _record_error(exc) from exc

        return run

    # ---- hooks ----------------------------------------------------------------------------
    def reset(self) -> None:
        self.store = Store()
        self.ids = load_world(self.store, self.world) if self.world is not None else {}
        self.cursors.clear()
        self.used = 0

    def error_body(self, status: int, body: Any) -> Any:
        if isinstance(body, dict) and "error" not in body:
            return [
                {
                    "message": body.get("message", ""),
                    "errorCode": _STATUS_CODES.get(status, "UNKNOWN_EXCEPTION"),
                }
            ]
        return body

    def before_request(self, req: Request) -> None:
        if req.path == "/services/oauth2/token":
            return
        auth = req.headers.get("authorization", "")
        with self.lock:
            if auth.removeprefix("Bearer ").strip() not in self.tokens:
                raise ApiError(401, INVALID_SESSION)
            if self.used >= self.daily_limit:
                raise _err(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")
            self.used += 1

    def decorate(self, req: Request, resp: Response) -> None:
        resp.headers["Sforce-Limit-Info"] = f"api-usage={self.used}/{self.daily_limit}"

    # ---- auth and limits --------------------------------------------------------------------
    def _token(self, req: Request, _m: re.Match[str]) -> Response:
        form = {k: v[-1] for k, v in parse_qs(req.body.decode(errors="replace")).items()}
        form.update({k: v[-1] for k, v in req.query.items()})
        grant = form.get("grant_type")
        if grant not in ("client_credentials", "password", "refresh_token"):
            raise ApiError(
                400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
            )
        if grant == "refresh_token" and form.get("refresh_token") not in self.refresh_tokens:
            raise ApiError(
                400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
            )
        if not (
            hmac.compare_digest(form.get("client_id", ""), self.client_id)
            and hmac.compare_digest(form.get("client_secret", ""), self.client_secret)
        ):
            raise ApiError(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        if grant == "password" and not (form.get("username") and form.get("password")):
            raise ApiError(400, {"error": "invalid_grant", "error_description": "authentication failure"})
        token = "00D5g000000SandB!" + secrets.token_urlsafe(24)
        instance = f"https://{req.headers.get('host', '127.0.0.1')}"
        issued = str(int(time.time() * 1000))
        sig = hmac.new(self._sign_key, (instance + issued).encode(), hashlib.sha256).digest()
        body = {
            "access_token": token,
            "instance_url": instance,
            "id": f"{instance}/id/00D5g000000SandB/005",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": base64.b64encode(sig).decode(),
        }
        with self.lock:
            self.tokens.add(token)
            if grant != "client_credentials":
                body["refresh_token"] = secrets.token_urlsafe(24)
                self.refresh_tokens.add(body["refresh_token"])
        return Response(200, body)

    def _limits(self, req: Request, _m: re.Match[str]) -> Response:
        remaining = max(self.daily_limit - self.used, 0)
        return Response(200, {"DailyApiRequests": {"Max": self.daily_limit, "Remaining": remaining}})

    # ---- query --------------------------------------------------------------------------------
    def _resolve(self, sobject: str, name: str) -> tuple[str, str]:
        canonical = CANONICAL[sobject].get(name.lower())
        if canonical is None:
            raise SoqlError(
                f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name. Please reference your "
                "WSDL or the describe call for the appropriate names.",
                "INVALID_FIELD",
            )
        return canonical, FIELDS[sobject][canonical].type

    def _query(self, req: Request, m: re.Match[str]) -> Response:
        text = req.arg("q")
        if not text:
            raise _err(400, "A query string must be provided in the q parameter", "MALFORMED_QUERY")
        try:
            query = parse(text, SOBJECTS, self._resolve)
        except SoqlError as exc:
            raise _err(400, exc.message, exc.code) from exc
        rows = self._select(query, include_deleted=m["kind"] == "queryAll")
        if query.count:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []})
        cursor = Cursor(query.sobject, query.fields, rows, _batch_size(req), len(rows))
        return self._page(cursor, m["v"], m["kind"], None, 0)

    def _select(self, query: Query, *, include_deleted: bool) -> list[Record]:
        rows = [
            r
            for r in self.store.records[query.sobject].values()
            if (include_deleted or not r["IsDeleted"]) and matches(query.where, r)
        ]
        if query.order:
            rows = sort_records(rows, query.order)
        return rows[: query.limit] if query.limit is not None else rows

    def _page(self, cursor: Cursor, version: str, kind: str, locator: str | None, offset: int) -> Response:
        end = offset + cursor.batch
        chunk = cursor.rows[offset:end]
        body: dict[str, Any] = {
            "totalSize": cursor.total,
            "done": end >= cursor.total,
            "records": [to_json(cursor.sobject, r, cursor.fields, version) for r in chunk],
        }
        if end < cursor.total:
            if locator is None:
                locator = make_id("01g", next(self._locators))[:15]
                self.cursors[locator] = cursor
                while len(self.cursors) > MAX_CURSORS:
                    self.cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{version}/{kind}/{locator}-{end}"
        elif locator is not None:
            self.cursors.pop(locator, None)
        return Response(200, body, records_out=len(chunk))

    def _query_more(self, req: Request, m: re.Match[str]) -> Response:
        cursor = self.cursors.get(m["loc"])
        if cursor is None:
            raise _err(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
        return self._page(cursor, m["v"], m["kind"], m["loc"], int(m["off"]))

    # ---- sObjects -------------------------------------------------------------------------------
    def _type(self, m: re.Match[str]) -> str:
        sobject = SOBJECTS.get(m["t"].lower())
        if sobject is None:
            raise _err(404, f"The requested resource does not exist: sObject type '{m['t']}'", "NOT_FOUND")
        return sobject

    def _global_describe(self, req: Request, m: re.Match[str]) -> Response:
        sobjects = [{"name": t, "label": t, "queryable": True} for t in FIELDS]
        return Response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def _describe(self, req: Request, m: re.Match[str]) -> Response:
        return Response(200, describe(self._type(m), m["v"]))

    def _get(self, req: Request, m: re.Match[str]) -> Response:
        sobject = self._type(m)
        rec = self.store.get(sobject, m["id"])
        if rec["IsDeleted"]:
            raise _err(404, "entity is deleted", "ENTITY_IS_DELETED")
        fields_arg = req.arg("fields")
        fields = None
        if fields_arg:
            fields = tuple(self._resolve_field(sobject, f.strip()) for f in fields_arg.split(","))
        return Response(200, to_json(sobject, rec, fields, m["v"]), records_out=1)

    def _resolve_field(self, sobject: str, name: str) -> str:
        try:
            return self._resolve(sobject, name)[0]
        except SoqlError as exc:
            raise _err(400, exc.message, exc.code) from exc

    def _create(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            raise _err(400, "The request body must be a JSON object", "JSON_PARSER_ERROR")
        rid = self.store.create(self._type(m), body)
        return Response(201, {"id": rid, "success": True, "errors": []}, records_in=1)

    def _update(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            raise _err(400, "The request body must be a JSON object", "JSON_PARSER_ERROR")
        self.store.update(self._type(m), m["id"], body)
        return Response(204, records_in=1)

    def _delete(self, req: Request, m: re.Match[str]) -> Response:
        self.store.delete(self._type(m), m["id"])
        return Response(204, records_in=1)

    def _upsert(self, req: Request, m: re.Match[str]) -> Response:
        sobject = self._type(m)
        body = req.json()
        if not isinstance(body, dict):
            raise _err(400, "The request body must be a JSON object", "JSON_PARSER_ERROR")
        writer = composite.upsert_writer(sobject, m["f"])
        name = CANONICAL[sobject][m["f"].lower()]
        found = self.store.match_external(sobject, name, m["val"])
        if len(found) > 1:
            urls = [f"/services/data/v{m['v']}/sobjects/{sobject}/{r['Id']}" for r in found]
            return Response(300, urls)
        result = writer(self.store, sobject, {**body, name: m["val"]})
        if result["created"]:
            return Response(
                201, {"id": result["id"], "success": True, "errors": [], "created": True}, records_in=1
            )
        if float(m["v"]) < 46.0:
            return Response(204, records_in=1)
        return Response(
            200, {"id": result["id"], "success": True, "errors": [], "created": False}, records_in=1
        )

    def _collection(self, req: Request, m: re.Match[str]) -> Response:
        results = composite.run_collection(self.store, req.json(), composite.WRITERS[req.method])
        return Response(200, results, records_in=len(results))

    def _collection_delete(self, req: Request, m: re.Match[str]) -> Response:
        """`DELETE composite/sobjects?ids=a,b&allOrNone=false`: the same transaction rules as writes."""
        ids = [i for i in (req.arg("ids") or "").split(",") if i]
        body = {
            "allOrNone": (req.arg("allOrNone") or "").lower() == "true",
            "records": [{"Id": i} for i in ids],
        }
        results = composite.run_collection(self.store, body, composite.delete_writer)
        return Response(200, results, records_in=len(results))

    def _collection_upsert(self, req: Request, m: re.Match[str]) -> Response:
        sobject = self._type(m)
        writer = composite.upsert_writer(sobject, m["f"])
        results = composite.run_collection(self.store, req.json(), writer, sobject=sobject)
        return Response(200, results, records_in=len(results))

    def _window(self, req: Request) -> tuple[Any, Any]:
        start, end = req.arg("start"), req.arg("end")
        if not start or not end:
            raise _err(400, "start and end are required", "MISSING_ARGUMENT")
        try:
            lo, hi = parse_datetime(start.replace(" ", "+")), parse_datetime(end.replace(" ", "+"))
        except ValueError as exc:
            raise _err(400, f"invalid start or end: {exc}", "INVALID_REPLICATION_DATE") from exc
        if lo > hi:
            raise _err(400, "start must be before end", "INVALID_REPLICATION_DATE")
        return lo, hi

    def _updated(self, req: Request, m: re.Match[str]) -> Response:
        lo, hi = self._window(req)
        ids = [str(r["Id"]) for r in self.store.live(self._type(m)) if lo <= r["SystemModstamp"] <= hi]
        return Response(200, {"ids": ids, "latestDateCovered": fmt(hi)}, records_out=len(ids))

    def _deleted(self, req: Request, m: re.Match[str]) -> Response:
        lo, hi = self._window(req)
        sobject = self._type(m)
        gone = [(rid, at) for rid, at in self.store.deleted_at.items() if rid in self.store.records[sobject]]
        rows = [{"id": rid, "deletedDate": fmt(at)} for rid, at in gone if lo <= at <= hi]
        earliest = min((at for _, at in gone), default=lo)
        body = {"deletedRecords": rows, "earliestDateAvailable": fmt(earliest), "latestDateCovered": fmt(hi)}
        return Response(200, body, records_out=len(rows))

    # ---- admin ------------------------------------------------------------------------------------
    def _expire(self, req: Request, _m: re.Match[str]) -> Response:
        self.tokens.clear()
        return Response(204)

    def _activity(self, req: Request, _m: re.Match[str]) -> Response:
        actions = req.json()
        if not isinstance(actions, list):
            raise ApiError(400, {"message": "activity body must be a JSON list of actions"})
        return Response(200, run_actions(self.store, actions))

    def _set_usage(self, req: Request, _m: re.Match[str]) -> Response:
        body = req.json() or {}
        self.used = int(body.get("used", self.used))
        self.daily_limit = int(body.get("limit", self.daily_limit))
        return Response(200, {"used": self.used, "limit": self.daily_limit})

    def _ids(self, req: Request, _m: re.Match[str]) -> Response:
        return Response(200, self.ids)


def make_app(
    world: World | None = None,
    *,
    client_id: str = "sandbox-client",
    client_secret: str = "sandbox-secret",  # noqa: S107 - well-known sandbox demo credential
    seed: int = 0,
    daily_limit: int = 15000,
    api_version: str = "59.0",
) -> SalesforceApp:
    """A Salesforce org seeded from `world` (empty when None); serve it with `serve_https`."""
    return SalesforceApp(
        world,
        client_id=client_id,
        client_secret=client_secret,
        seed=seed,
        daily_limit=daily_limit,
        api_version=api_version,
    )
