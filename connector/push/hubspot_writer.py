"""HubSpot writes: stage properties by batch/update (100), tasks by batch/create (100) with inline
associations, and the key lookup that makes a task re-create safe after an ambiguous failure.

HubSpot has no server-side idempotency for tasks (unique properties are not allowed on them), so
each task carries its key in `revops_idempotency_key` and, before a resend, the relay searches
for the keys it might already have created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC
from typing import Any

from connector.crm.clients import HubSpotConnection
from connector.crm.streams import HS_LIFECYCLE_ORDER
from connector.errors import RetryableError
from connector.model import Crm, TaskDecision
from connector.push.writes import Outcome, PlannedWrite, WriteResult

KEY_PROPERTY = "revops_idempotency_key"
BATCH = 100
SEARCH_IN_MAX = 100  # values per IN filter
# A move to an earlier value is refused (silently, in v1) unless the property is cleared first.
LIFECYCLE_ORDER = HS_LIFECYCLE_ORDER
_FORWARD_ONLY = {"lifecyclestage"}
# Task -> object association types (HubSpot-defined ids from the client's AssociationType enum).
_TASK_ASSOCIATION = {"contacts": 204, "deals": 216, "companies": 192}
# 207 categories that a resend cannot fix: dead-letter them with the CRM's message.
_PERMANENT = {"OBJECT_NOT_FOUND", "VALIDATION_ERROR", "INVALID_ARGUMENT", "PROPERTY_DOESNT_EXIST"}


def needs_clear(field: str, current: str | None, target: str) -> bool:
    """True when `field` is forward-only and `target` is not ahead of `current`.

    An unknown current value (custom stage, 'other') is cleared too: an extra request is cheaper
    than a silently refused write.
    """
    if field not in _FORWARD_ONLY or not current:
        return False
    if current not in LIFECYCLE_ORDER or target not in LIFECYCLE_ORDER:
        return True
    return LIFECYCLE_ORDER.index(target) < LIFECYCLE_ORDER.index(current)


def task_properties(decision: TaskDecision, key: str) -> dict[str, str]:
    """A HubSpot task: `hs_timestamp` (the due time) is required; the key rides along."""
    props = {
        "hs_timestamp": decision.due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "hs_task_subject": decision.subject,
        "hs_task_body": decision.body,
        "hs_task_priority": decision.priority,
        "hs_task_status": "NOT_STARTED",
        "hs_task_type": "TODO",
        KEY_PROPERTY: key,
    }
    if decision.owner_id:
        props["hubspot_owner_id"] = decision.owner_id
    return props


class HubSpotWriter:
    """One batch per call through the connection (the project's retry policy and token refresh)."""

    crm = Crm.HUBSPOT
    stage_batch = BATCH
    task_batch = BATCH
    one_type_per_call = True
    idempotent_tasks = False  # tasks have no unique property: look keys up

    def __init__(self, connection: HubSpotConnection) -> None:
        self._conn = connection

    @property
    def daily(self) -> tuple[int, int] | None:
        """(used, limit) from the last answer that carried HubSpot's daily headers; None until one
        did (search answers carry none; an OAuth app may get none: then only a 429 DAILY stops)."""
        headers = {k.lower(): v for k, v in self._conn.last_headers.items()}
        try:
            limit = int(headers["x-hubspot-ratelimit-daily"])
            remaining = int(headers["x-hubspot-ratelimit-daily-remaining"])
        except (KeyError, ValueError):
            return None
        return (max(0, limit - remaining), limit) if limit > 0 else None

    def update(self, writes: Sequence[PlannedWrite], *, clear: bool = False) -> list[WriteResult]:
        """batch/update one object type; with `clear`, send "" for each write's `clear_first`.

        A set may be re-sent freely (same value). A clear may not: a timed-out clear that lands
        after the set would leave the property empty, so it is sent without blind retries.
        """
        if clear:
            return self._once(lambda: self._update(writes, clear=True), writes, "contacts clear")
        return self._update(writes, clear=False)

    def create_tasks(self, writes: Sequence[PlannedWrite]) -> list[WriteResult]:
        """batch/create with inline associations, never re-sent blindly: the next cycle looks the
        keys of an ambiguous create up before creating only the missing tasks."""
        return self._once(lambda: self._create(writes), writes, "tasks batch/create")

    def _once(
        self, send: Callable[[], list[WriteResult]], writes: Sequence[PlannedWrite], what: str
    ) -> list[WriteResult]:
        """Run a write that must not be repeated blindly. A 429 was refused, so the policy re-sends
        it at once. A timeout or 5xx may have been applied (or still be in flight): the writes come
        back UNKNOWN and are settled by a later cycle from the CRM's state, not re-sent now."""

        def attempt() -> list[WriteResult]:
            try:
                with _single_attempt(self._conn):  # the connection must not re-send on its own
                    return send()
            except RetryableError as exc:
                if exc.status == 429:
                    raise
                note = f"ambiguous ({exc}); settled from the CRM's state before any resend"
                return [WriteResult(w.key, Outcome.UNKNOWN, error=note, status=exc.status) for w in writes]

        return self._conn.policy.call(attempt, what=f"hubspot {what}")

    def _update(self, writes: Sequence[PlannedWrite], *, clear: bool) -> list[WriteResult]:
        inputs = [{"id": w.record_id, "properties": _values(w, clear=clear)} for w in writes]
        data = self._conn.call_json(
            "crm.objects.batch_api",
            "update",
            object_type=writes[0].object_type,
            batch_input_simple_public_object_batch_input={"inputs": inputs},
        )
        done = {str(r.get("id")) for r in (data or {}).get("results", [])}
        errors = _errors_by_id(data)
        return [
            WriteResult(w.key, Outcome.SENT, crm_id=w.record_id)
            if w.record_id in done
            else _failure(w.key, errors.get(w.record_id or "") or errors.get("*"))
            for w in writes
        ]

    def _create(self, writes: Sequence[PlannedWrite]) -> list[WriteResult]:
        inputs = [
            {
                "properties": dict(w.properties),
                "associations": [
                    {
                        "to": {"id": t.record_id},
                        "types": [
                            {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": _TASK_ASSOCIATION[t.object_type],
                            }
                        ],
                    }
                    for t in w.associations
                    if t.object_type in _TASK_ASSOCIATION
                ],
            }
            for w in writes
        ]
        data = self._conn.call_json(
            "crm.objects.batch_api",
            "create",
            object_type="tasks",
            batch_input_simple_public_object_batch_input_for_create={"inputs": inputs},
        )
        created = {
            (r.get("properties") or {}).get(KEY_PROPERTY): str(r.get("id"))
            for r in (data or {}).get("results", [])
        }
        first_error = next(iter(_errors_by_id(data).values()), None)
        return [
            WriteResult(w.key, Outcome.SENT, crm_id=created[w.key])
            if w.key in created
            else _failure(w.key, first_error)
            for w in writes
        ]

    def find_tasks(self, keys: Sequence[str]) -> dict[str, str]:
        """key -> task id for the keys HubSpot already holds (search on the key property)."""
        found: dict[str, str] = {}
        for start in range(0, len(keys), SEARCH_IN_MAX):
            chunk = list(keys[start : start + SEARCH_IN_MAX])
            after: str | None = None
            while True:
                request: dict[str, Any] = {
                    "filterGroups": [
                        {"filters": [{"propertyName": KEY_PROPERTY, "operator": "IN", "values": chunk}]}
                    ],
                    "properties": [KEY_PROPERTY],
                    "limit": 200,
                }
                if after:
                    request["after"] = after
                page = (
                    self._conn.call_json(
                        "crm.objects.search_api",
                        "do_search",
                        object_type="tasks",
                        public_object_search_request=request,
                    )
                    or {}
                )
                for obj in page.get("results", []):
                    key = (obj.get("properties") or {}).get(KEY_PROPERTY)
                    if key:
                        found.setdefault(key, str(obj.get("id")))
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
                after = str(after)
        return found


@contextmanager
def _single_attempt(conn: HubSpotConnection) -> Iterator[None]:
    """One attempt for the create: the retry that may follow is decided by `create_tasks`."""
    saved = conn.policy
    conn.policy = replace(saved, attempts=1)
    try:
        yield
    finally:
        conn.policy = saved


def _values(write: PlannedWrite, *, clear: bool) -> dict[str, str]:
    return dict.fromkeys(write.clear_first, "") if clear else dict(write.properties)


def _errors_by_id(data: Any) -> dict[str, tuple[str, str]]:
    """record id (or "*" when the error names none) -> (category, message) from a 207 body."""
    out: dict[str, tuple[str, str]] = {}
    for err in (data or {}).get("errors", []) if isinstance(data, Mapping) else []:
        detail = (str(err.get("category") or ""), str(err.get("message") or ""))
        ids = (err.get("context") or {}).get("ids") or ["*"]
        for record_id in ids:
            out.setdefault(str(record_id), detail)
        out.setdefault("*", detail)
    return out


def _failure(key: str, error: tuple[str, str] | None) -> WriteResult:
    if error is None:  # neither a result nor an error for it: not written, resend later
        return WriteResult(key, Outcome.FAILED, error="no result returned for this record")
    category, message = error
    outcome = Outcome.DEAD if category in _PERMANENT else Outcome.FAILED
    return WriteResult(key, outcome, error=f"{category}: {message}" if category else message)


__all__ = ["HubSpotWriter", "needs_clear", "task_properties"]
