"""sObject Collections (`composite/sobjects`): create, update and upsert up to 200 records at once.

Per-record failures come back in a 200 list with `statusCode` (not `errorCode`); with allOrNone
every write is undone and the other records report ALL_OR_NONE_OPERATION_ROLLED_BACK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.sandbox.base import ApiError

from .describe import CANONICAL, FIELDS, PREFIX_TYPE, SOBJECTS
from .store import RecordError, Store

MAX_RECORDS = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": (
        "Record rolled back because not all records were valid and the request was using AllOrNone header"
    ),
    "fields": [],
}
Writer = Callable[[Store, str, dict[str, Any]], dict[str, Any]]


def _records(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(
            400, [{"message": "Request body must hold a records list", "errorCode": "INVALID_INPUT"}]
        )
    records = body["records"]
    if len(records) > MAX_RECORDS:
        msg = f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
        raise ApiError(400, [{"message": msg, "errorCode": "EXCEEDED_ID_LIMIT"}])
    return records, bool(body.get("allOrNone", False))


def _sobject(rec: Any, default: str | None) -> str:
    if not isinstance(rec, dict):
        raise RecordError("INVALID_INPUT", "each record must be a JSON object")
    if "attributes" not in rec and default is None and isinstance(rec.get("Id"), str):
        default = PREFIX_TYPE.get(rec["Id"][:3])  # deletes name records by Id only
    attrs = rec.get("attributes")
    name = attrs.get("type") if isinstance(attrs, dict) else default
    if not isinstance(name, str) or name.lower() not in SOBJECTS:
        raise RecordError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return SOBJECTS[name.lower()]


def _create(store: Store, sobject: str, rec: dict[str, Any]) -> dict[str, Any]:
    if rec.get("Id"):
        raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
    return {"id": store.create(sobject, rec)}


def _update(store: Store, sobject: str, rec: dict[str, Any]) -> dict[str, Any]:
    rid = rec.get("Id")
    if not isinstance(rid, str) or not rid:
        raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
    if not rid.startswith(store.new_id(sobject)[:3]):
        raise RecordError("MALFORMED_ID", f"{sobject} ID: id value of incorrect type: {rid}", ["Id"])
    store.update(sobject, rid, rec)
    return {"id": store.get(sobject, rid)["Id"]}


def _upserter(field: str) -> Writer:
    def run(store: Store, sobject: str, rec: dict[str, Any]) -> dict[str, Any]:
        key = rec.get(field)
        if not isinstance(key, str) or not key:
            raise RecordError("MISSING_ARGUMENT", f"{field} not specified", [field])
        found = store.match_external(sobject, field, key)
        if len(found) > 1:
            raise RecordError(
                "DUPLICATE_EXTERNAL_ID", f"{field}: more than one record found for {key}", [field]
            )
        if found:
            rid = str(found[0]["Id"])
            store.update(sobject, rid, {k: v for k, v in rec.items() if k != "Id"})
            return {"id": rid, "created": False}
        return {"id": store.create(sobject, rec), "created": True}

    return run


def run_collection(
    store: Store, body: Any, writer: Writer, *, sobject: str | None = None
) -> list[dict[str, Any]]:
    """Apply `writer` to each record in a transaction; return Salesforce's per-record results."""
    records, all_or_none = _records(body)
    results: list[dict[str, Any]] = []
    failed = False
    store.begin()
    for rec in records:
        try:
            outcome = writer(store, _sobject(rec, sobject), rec)
            results.append({**outcome, "success": True, "errors": []})
        except RecordError as exc:
            failed = True
            rid = rec.get("Id") if isinstance(rec, dict) else None
            results.append({**({"id": rid} if rid else {}), "success": False, "errors": [exc.as_error()]})
    if not (failed and all_or_none):
        store.commit()
        return results
    store.rollback()
    for i, (rec, res) in enumerate(zip(records, results, strict=True)):
        if res["success"]:
            rid = rec.get("Id") if isinstance(rec, dict) else None
            results[i] = {**({"id": rid} if rid else {}), "success": False, "errors": [ROLLED_BACK]}
    return results


def upsert_writer(sobject: str, field: str) -> Writer:
    """The writer for `PATCH composite/sobjects/{Type}/{Field}`; the field must be an external ID."""
    name = CANONICAL[sobject].get(field.lower())
    if name is None or not FIELDS[sobject][name].external_id:
        raise ApiError(
            400,
            [
                {
                    "message": f"Field {field} is not an External ID or indexed field for {sobject}",
                    "errorCode": "INVALID_FIELD",
                }
            ],
        )
    return _upserter(name)


def delete_writer(store: Store, _sobject: str, rec: dict[str, Any]) -> dict[str, Any]:
    found = store.find(str(rec["Id"]))
    if found is None:
        raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {rec['Id']}", ["Id"])
    store.delete(found[0], str(rec["Id"]))
    return {"id": found[1]["Id"]}


WRITERS: dict[str, Writer] = {"POST": _create, "PATCH": _update}
