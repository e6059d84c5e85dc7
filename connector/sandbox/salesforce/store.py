"""The org's records: typed values, validation, soft delete, and an undo journal for allOrNone.

Values are held as Python types (datetime, date, bool, str, float) so SOQL compares them
properly; `to_json` renders them the way the REST API does (`2024-01-01T12:00:00.000+0000`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .describe import CANONICAL, FIELDS, KEY_PREFIX, PREFIX_TYPE, STAGES, Field
from .soql import Value, parse_datetime

Record = dict[str, Value]
_CHECK = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class RecordError(Exception):
    """A per-record failure, shaped like Salesforce's `{"statusCode","message","fields"}`."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []
        self.status = status

    def as_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


def with_checksum(id15: str) -> str:
    """Salesforce's 18-char form: a suffix encoding which of the 15 chars are upper-case."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _CHECK[bits]
    return id15 + suffix


def make_id(prefix: str, n: int) -> str:
    digits = ""
    while True:
        n, r = divmod(n, 62)
        digits = _B62[r] + digits
        if n == 0:
            break
    return with_checksum(prefix + "5g0" + digits.rjust(9, "0"))


def fmt(value: Value) -> Any:
    if isinstance(value, datetime):
        # stored values are UTC already; isoformat is several times faster than strftime
        return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "+0000"
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_ms(moment: datetime) -> datetime:
    """Salesforce keeps datetimes to the millisecond; so must we, or a cursor read back re-matches."""
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def now_ms() -> datetime:
    """The org clock at millisecond precision, so writes in the same millisecond tie, as in SF."""
    return to_ms(datetime.now(UTC))


def _boolean(raw: Any) -> bool:
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if not isinstance(raw, bool):
        raise TypeError(raw)
    return raw


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise TypeError(raw)
    return float(raw)


_TYPED: dict[str, Callable[[Any], Value]] = {
    "boolean": _boolean,
    "double": _number,
    "currency": _number,
    "percent": _number,
    "int": _number,
    "date": lambda raw: date.fromisoformat(str(raw)[:10]),
    "datetime": lambda raw: to_ms(parse_datetime(str(raw).replace("+0000", "+00:00"))),
}


def _coerce(sobject: str, f: Field, raw: Any, *, system: bool) -> Value:
    if raw is None:
        if f.required:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{f.name}]", [f.name])
        return None
    if f.type in _TYPED:
        try:
            return _TYPED[f.type](raw)
        except (TypeError, ValueError) as exc:
            raise RecordError(
                "JSON_PARSER_ERROR", f"Cannot deserialize instance of {f.type} from value {raw!r}", [f.name]
            ) from exc
    if not isinstance(raw, str):
        raise RecordError(
            "JSON_PARSER_ERROR", f"Cannot deserialize instance of string from {raw!r}", [f.name]
        )
    if f.picklist and raw not in f.picklist and not system:
        raise RecordError(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            f"{sobject}.{f.name}: bad value for picklist: {raw}",
            [f.name],
        )
    return raw


@dataclass(slots=True)
class _Txn:
    undo: dict[tuple[str, str], Record | None]


class Store:
    """All records of one org, keyed by sObject type then Id."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Record]] = {t: {} for t in FIELDS}
        self.deleted_at: dict[str, datetime] = {}
        self.owners: set[str] = set()
        self._counter = itertools.count(1)
        self._txn: _Txn | None = None

    # ---- ids and lookup -----------------------------------------------------------------
    def new_id(self, sobject: str) -> str:
        return make_id(KEY_PREFIX.get(sobject, "005"), next(self._counter))

    def find(self, record_id: str) -> tuple[str, Record] | None:
        sobject = PREFIX_TYPE.get(record_id[:3])
        if sobject is None:
            return None
        rec = self.records[sobject].get(_to18(record_id))
        return (sobject, rec) if rec is not None else None

    def get(self, sobject: str, record_id: str) -> Record:
        rec = self.records[sobject].get(_to18(record_id))
        if rec is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        return rec

    def live(self, sobject: str) -> list[Record]:
        return [r for r in self.records[sobject].values() if not r["IsDeleted"]]

    # ---- transactions (allOrNone) ---------------------------------------------------------
    def begin(self) -> None:
        self._txn = _Txn({})

    def commit(self) -> None:
        self._txn = None

    def rollback(self) -> None:
        txn, self._txn = self._txn, None
        if txn is None:
            return
        for (sobject, rid), prior in txn.undo.items():
            if prior is None:
                self.records[sobject].pop(rid, None)
                self.deleted_at.pop(rid, None)
            else:
                self.records[sobject][rid] = prior

    def _journal(self, sobject: str, rid: str) -> None:
        if self._txn is not None and (sobject, rid) not in self._txn.undo:
            prior = self.records[sobject].get(rid)
            self._txn.undo[(sobject, rid)] = dict(prior) if prior is not None else None

    # ---- writes ---------------------------------------------------------------------------
    def _values(self, sobject: str, data: dict[str, Any], *, creating: bool, system: bool) -> Record:
        out: Record = {}
        for key, raw in data.items():
            if key in ("attributes", "Id"):
                continue
            name = CANONICAL[sobject].get(key.lower())
            if name is None:
                raise RecordError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject}", [key]
                )
            f = FIELDS[sobject][name]
            if not f.updateable and not system:
                code = "INVALID_FIELD_FOR_INSERT_UPDATE"
                raise RecordError(code, f"Unable to create/update fields: {name}.", [name])
            value = _coerce(sobject, f, raw, system=system)
            if f.type == "reference" and value is not None:
                self._check_reference(f, str(value))
                value = _to18(str(value))
            out[name] = value
        if creating:
            missing = [f.name for f in FIELDS[sobject].values() if f.required and out.get(f.name) is None]
            if missing:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
        return out

    def _check_reference(self, f: Field, value: str) -> None:
        if f.reference_to == ("User",):
            if value[:3] == "005" and value in self.owners:
                return
        else:
            found = self.find(value)
            if found and found[0] in f.reference_to and not found[1]["IsDeleted"]:
                return
        raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", [f.name])

    def create(
        self, sobject: str, data: dict[str, Any], *, at: datetime | None = None, system: bool = False
    ) -> str:
        values = self._values(sobject, data, creating=True, system=system)
        rid = self.new_id(sobject)
        stamp = to_ms(at) if at is not None else now_ms()
        rec: Record = dict.fromkeys(FIELDS[sobject])
        rec.update({"Id": rid, "IsDeleted": False, "CreatedDate": stamp})
        rec.update({f.name: False for f in FIELDS[sobject].values() if f.type == "boolean"})
        if sobject == "Lead":
            rec["Status"] = "Open - Not Contacted"
        if sobject == "Task":
            rec.update({"Status": "Not Started", "Priority": "Normal"})
        self._check_unique(sobject, values, rid)
        self._journal(sobject, rid)
        self.records[sobject][rid] = rec
        self._apply(sobject, rec, values, stamp)
        return rid

    def update(self, sobject: str, rid: str, data: dict[str, Any], *, system: bool = False) -> None:
        rec = self.records[sobject].get(_to18(rid))
        if rec is None:
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {rid}", ["Id"], 404
            )
        if rec["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [], 404)
        if sobject == "Lead" and rec["IsConverted"] and not system:
            raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
        values = self._values(sobject, data, creating=False, system=system)
        for f in FIELDS[sobject].values():
            if f.required and f.name in values and values[f.name] is None:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{f.name}]", [f.name]
                )
        self._check_unique(sobject, values, str(rec["Id"]))
        self._journal(sobject, str(rec["Id"]))
        self._apply(sobject, rec, values, now_ms())

    def delete(self, sobject: str, rid: str) -> None:
        rec = self.records[sobject].get(_to18(rid))
        if rec is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        if rec["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", status=404)
        self._journal(sobject, str(rec["Id"]))
        stamp = now_ms()
        rec.update({"IsDeleted": True, "SystemModstamp": stamp})
        self.deleted_at[str(rec["Id"])] = stamp

    def match_external(self, sobject: str, field: str, value: str) -> list[Record]:
        want = value.casefold()
        return [
            r
            for r in self.live(sobject)
            if isinstance(r.get(field), str) and str(r[field]).casefold() == want
        ]

    def _check_unique(self, sobject: str, values: Record, rid: str) -> None:
        for f in FIELDS[sobject].values():
            value = values.get(f.name)
            if not f.unique or value is None:
                continue
            for other in self.match_external(sobject, f.name, str(value)):
                if other["Id"] != rid:
                    raise RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {f.name} duplicates value on record with id: {other['Id']}",
                        [f.name],
                    )

    def _apply(self, sobject: str, rec: Record, values: Record, stamp: datetime) -> None:
        """Write values, derive what Salesforce derives, and bump both modification stamps."""
        rec.update(values)
        if ("FirstName" in rec or "LastName" in rec) and sobject in ("Lead", "Contact"):
            rec["Name"] = " ".join(str(p) for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        if sobject == "Opportunity" and "StageName" in values:
            stage = STAGES[str(rec["StageName"])]
            rec.update({"IsClosed": stage.closed, "IsWon": stage.won, "ForecastCategoryName": stage.forecast})
            if "Probability" not in values:
                rec["Probability"] = float(stage.probability)
        if sobject == "Task":
            rec["IsClosed"] = rec.get("Status") == "Completed"
        rec["LastModifiedDate"] = rec["SystemModstamp"] = max(stamp, rec["CreatedDate"])  # type: ignore[type-var]


def _to18(rid: str) -> str:
    return with_checksum(rid) if len(rid) == 15 else rid


def to_json(sobject: str, rec: Record, fields: tuple[str, ...] | None, api_version: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/v{api_version}/sobjects/{sobject}/{rec['Id']}",
        }
    }
    for name in fields if fields is not None else tuple(FIELDS[sobject]):
        out[name] = fmt(rec.get(name))
    return out
