"""The sandbox's in-memory CRM: records, HubSpot's write semantics, associations, search snapshots.

Every write goes through `create`/`update` so the system properties (`hs_object_id`, created and
modified timestamps, stage-entry dates) and the forward-only lifecycle rule hold for the HTTP API
and for the admin activity API alike.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.sandbox.base import ApiError
from connector.sandbox.hubspot.schema import (
    ASSOCIATIONS,
    CREATED_PROP,
    ENUMS,
    LIFECYCLE,
    MODIFIED_PROP,
    iso,
    parse_time,
    sortable,
)

Props = dict[str, str | None]
Key = float | str | None


@dataclass(slots=True)
class Snapshot:
    """What search sees of a record: HubSpot indexes writes asynchronously.

    A snapshot never changes (a write makes a new one), so the parsed sort keys it caches can
    never go stale: each property value is parsed once, not once per filter per search.
    """

    props: Props
    archived: bool
    keys: dict[str, Key] | None = None

    def key(self, name: str) -> Key:
        """`sortable(name, value)` of this snapshot's value, computed once."""
        keys = self.keys
        if keys is None:
            keys = self.keys = {}
        elif name in keys:
            return keys[name]
        value = keys[name] = sortable(name, self.props.get(name))
        return value


@dataclass(slots=True)
class Record:
    id: int
    type: str
    props: Props
    created: datetime
    updated: datetime
    archived: bool = False
    archived_at: datetime | None = None
    indexed: Snapshot | None = None
    pending: list[tuple[float, Snapshot]] = field(default_factory=list)

    def search_view(self, now: float) -> Snapshot | None:
        while self.pending and self.pending[0][0] <= now:
            self.indexed = self.pending.pop(0)[1]
        return self.indexed

    def to_json(self, names: list[str] | None = None) -> dict[str, Any]:
        props = dict(self.props) if names is None else {n: self.props.get(n) for n in names}
        body: dict[str, Any] = {
            "id": str(self.id),
            "properties": props,
            "createdAt": iso(self.created),
            "updatedAt": iso(self.updated),
            "archived": self.archived,
        }
        if self.archived_at is not None:
            body["archivedAt"] = iso(self.archived_at)
        return body


def validation_error(name: str, message: str, code: str) -> ApiError:
    detail = [{"isValid": False, "message": message, "error": code, "name": name}]
    return ApiError(
        400,
        {
            "category": "VALIDATION_ERROR",
            "message": f"Property values were not valid: {json.dumps(detail, separators=(',', ':'))}",
        },
    )


def not_found(kind: str, ids: list[str]) -> ApiError:
    return ApiError(
        404,
        {
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {kind.upper()} objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": ids},
        },
    )


def _stringify(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Store:
    """Thread-safe records per object type; ids are unique across types, like HubSpot's."""

    def __init__(self, index_delay: float = 0.0) -> None:
        self.lock = threading.RLock()
        self.index_delay = index_delay
        self.records: dict[str, dict[int, Record]] = {"contacts": {}, "deals": {}, "tasks": {}}
        self.links: dict[tuple[str, int, str], dict[int, set[int]]] = {}
        self.merged: dict[int, int] = {}  # merged-away id -> surviving id
        self.keys: dict[str, int] = {}  # seed key -> record id, for tests
        self.next_id = 10001
        # Search caches (search.py) stay valid while a type's version is unchanged and no delayed
        # snapshot of that type has become visible: `dues` holds the pending visibility times.
        self.versions: dict[str, int] = dict.fromkeys(self.records, 0)
        self.dues: dict[str, list[float]] = {kind: [] for kind in self.records}
        # Types where some record's hs_object_id property differs from its id (a client wrote it):
        # search cannot then treat id order as hs_object_id order.
        self.renumbered: set[str] = set()
        self.search_cache: dict[str, Any] = {}

    # ---- writes ---------------------------------------------------------------------------
    def create(self, kind: str, raw: dict[str, Any], *, at: datetime | None = None) -> Record:
        props = {k: _stringify(v) for k, v in raw.items()}
        self.validate(kind, props, creating=True)
        now = at or datetime.now(UTC)
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            stamp = iso(now)
            base: Props = {CREATED_PROP[kind]: stamp, MODIFIED_PROP[kind]: stamp, "hs_object_id": str(rid)}
            if kind == "deals":
                base["pipeline"] = "default"
            base.update(props)
            rec = Record(rid, kind, base, now, now)
            self._enter_stage(rec, now)
            self.records[kind][rid] = rec
            self._index(rec)
            return rec

    def update(self, kind: str, rid: int, raw: dict[str, Any], *, force: bool = False) -> Record:
        """Apply `raw`; an earlier lifecycle stage is silently ignored unless `force` (a UI edit)."""
        props = {k: _stringify(v) for k, v in raw.items()}
        self.validate(kind, props)
        with self.lock:
            rec = self.get(kind, rid)
            if rec is None:
                raise not_found(kind[:-1], [str(rid)])
            if kind == "contacts" and not force and self._backwards(rec, props.get("lifecyclestage")):
                props.pop("lifecyclestage")
            changed = {k: v for k, v in props.items() if rec.props.get(k) != v}
            if not changed:
                return rec
            now = datetime.now(UTC)
            rec.props.update(changed)
            if {"lifecyclestage", "dealstage"} & changed.keys():
                self._enter_stage(rec, now)
            self._touch(rec, now)
            return rec

    def archive(self, kind: str, rid: int) -> bool:
        with self.lock:
            rec = self.records[kind].get(rid)
            if rec is None or rec.archived:
                return False
            now = datetime.now(UTC)
            rec.archived, rec.archived_at = True, now
            self._touch(rec, now)
            return True

    def merge(self, primary: int, merged: int) -> Record:
        """Merge contact `merged` into `primary`: the loser disappears and its id resolves to the winner."""
        with self.lock:
            winner, loser = self.get("contacts", primary), self.get("contacts", merged)
            if winner is None or loser is None or winner.id == loser.id:
                raise not_found("contact", [str(primary), str(merged)])
            del self.records["contacts"][loser.id]
            self.merged[loser.id] = winner.id
            for key in [k for k in self.links if k[0] == "contacts" and k[1] == loser.id]:
                for to_id, types in self.links.pop(key).items():
                    for tid in types:
                        self.associate("contacts", winner.id, key[2], to_id, tid)
            for (_f, _fid, to), targets in self.links.items():
                if to == "contacts" and loser.id in targets:
                    targets.setdefault(winner.id, set()).update(targets.pop(loser.id))
            ids = [i for i in (winner.props.get("hs_merged_object_ids") or "").split(";") if i]
            winner.props["hs_merged_object_ids"] = ";".join([*ids, str(loser.id)])
            for name, value in loser.props.items():
                if winner.props.get(name) in (None, "") and value not in (None, ""):
                    winner.props[name] = value
            winner.props["hs_object_id"] = str(winner.id)
            self._touch(winner, datetime.now(UTC))
            return winner

    # ---- reads ----------------------------------------------------------------------------
    def get(self, kind: str, rid: int, *, archived: bool | None = False) -> Record | None:
        """A record by id, following merges; `archived=None` means either."""
        with self.lock:
            rid = self.merged.get(rid, rid)
            rec = self.records[kind].get(rid)
            if rec is None or (archived is not None and rec.archived != archived):
                return None
            return rec

    def find(self, kind: str, prop: str, value: str) -> Record | None:
        """Lookup by a unique property (`idProperty`); email compares case-insensitively."""
        if prop == "hs_object_id":
            return self.get(kind, int(value)) if value.isdigit() else None
        fold = prop == "email"
        want = value.lower() if fold else value
        with self.lock:
            for rec in self.records[kind].values():
                have = rec.props.get(prop)
                if not rec.archived and have is not None and (have.lower() if fold else have) == want:
                    return rec
        return None

    def resolve(self, kind: str, raw_id: str, id_property: str | None) -> Record | None:
        if id_property and id_property != "hs_object_id":
            return self.find(kind, id_property, raw_id)
        return self.get(kind, int(raw_id)) if raw_id.isdigit() else None

    # ---- associations ---------------------------------------------------------------------
    def associate(
        self, from_kind: str, from_id: int, to_kind: str, to_id: int, type_id: int | None = None
    ) -> None:
        """Link both directions; the reverse side gets HubSpot's paired default type."""
        if (from_kind, to_kind) not in ASSOCIATIONS:
            raise ApiError(400, {"message": f"No association between {from_kind} and {to_kind}"})
        with self.lock:
            if self.get(to_kind, to_id) is None:
                raise not_found(to_kind[:-1], [str(to_id)])
            forward = type_id or ASSOCIATIONS[(from_kind, to_kind)][0]
            self.links.setdefault((from_kind, from_id, to_kind), {}).setdefault(to_id, set()).add(forward)
            reverse = ASSOCIATIONS[(to_kind, from_kind)][0]
            self.links.setdefault((to_kind, to_id, from_kind), {}).setdefault(from_id, set()).add(reverse)

    def associations(self, from_kind: str, from_id: int, to_kind: str) -> dict[int, set[int]]:
        with self.lock:
            return {k: set(v) for k, v in self.links.get((from_kind, from_id, to_kind), {}).items()}

    # ---- internals ------------------------------------------------------------------------
    def validate(self, kind: str, props: dict[str, Any], *, creating: bool = False) -> None:
        """HubSpot rejects the whole request on a bad value; tasks cannot exist without a due time."""
        if creating and kind == "tasks" and not props.get("hs_timestamp"):
            raise validation_error("hs_timestamp", "hs_timestamp is required", "REQUIRED_FIELD")
        for name, value in props.items():
            options = ENUMS.get((kind, name))
            if options and value not in (None, "") and str(value) not in options:
                raise validation_error(name, f"{value} was not one of the allowed options", "INVALID_OPTION")
            if name in {"hs_timestamp", "closedate"} and value and parse_time(str(value)) is None:
                raise validation_error(name, f"{value} is not a valid date", "INVALID_DATE")
            if name == "email" and value and "@" not in str(value):
                raise validation_error(name, f"Email address {value} is invalid", "INVALID_EMAIL")

    @staticmethod
    def _backwards(rec: Record, new: str | None) -> bool:
        old = rec.props.get("lifecyclestage")
        if not new or not old or old not in LIFECYCLE or new not in LIFECYCLE:
            return False
        return LIFECYCLE.index(new) < LIFECYCLE.index(old)

    @staticmethod
    def _enter_stage(rec: Record, now: datetime) -> None:
        stage = rec.props.get("lifecyclestage" if rec.type == "contacts" else "dealstage")
        if stage and rec.type in {"contacts", "deals"}:
            rec.props[f"hs_v2_date_entered_{stage}"] = iso(now)

    def _touch(self, rec: Record, now: datetime) -> None:
        rec.updated = max(now, rec.updated)
        rec.props[MODIFIED_PROP[rec.type]] = iso(rec.updated)
        self._index(rec)

    def _index(self, rec: Record) -> None:
        self.versions[rec.type] += 1
        snap = Snapshot(dict(rec.props), rec.archived)
        if snap.props.get("hs_object_id") != str(rec.id):
            self.renumbered.add(rec.type)
        if self.index_delay <= 0:
            rec.indexed = snap
        else:
            due = time.monotonic() + self.index_delay
            rec.pending.append((due, snap))
            heapq.heappush(self.dues[rec.type], due)

    def visible_until(self, kind: str, now: float) -> float:
        """When the next delayed snapshot of `kind` becomes searchable (inf when none is pending)."""
        dues = self.dues[kind]
        while dues and dues[0] <= now:
            heapq.heappop(dues)
        return dues[0] if dues else float("inf")
