"""Salesforce writes through sObject Collections (200 records a call, allOrNone=false).

Stage fields: PATCH composite/sobjects, Lead and Contact mixed in one call. Tasks: PATCH
composite/sobjects/Task/Revops_Key__c, an upsert on an external-ID field, so a resend after an
ambiguous failure updates the task it already created instead of creating a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.crm.clients import SalesforceConnection
from connector.model import Crm, TaskDecision
from connector.push.writes import Outcome, PlannedWrite, WriteResult

KEY_FIELD = "Revops_Key__c"
BATCH = 200
_PRIORITY = {"HIGH": "High", "MEDIUM": "Normal", "LOW": "Low"}
_WHO = {"Lead", "Contact"}
_WHAT = {"Opportunity", "Account"}
# Per-record codes a resend may fix; every other code is the record's own fault -> dead letter.
_TRANSIENT = {"ALL_OR_NONE_OPERATION_ROLLED_BACK", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED"}


def task_fields(decision: TaskDecision, key: str) -> dict[str, str]:
    """A Salesforce Task: WhoId/WhatId inline, ActivityDate a plain date, the key as external ID."""
    fields = {
        "Subject": decision.subject,
        "Description": decision.body,
        "ActivityDate": decision.due.date().isoformat(),
        "Priority": _PRIORITY[decision.priority],
        "Status": "Not Started",
        KEY_FIELD: key,
    }
    for target in decision.targets:
        if target.crm is not Crm.SALESFORCE:
            continue
        if target.object_type in _WHO:
            fields.setdefault("WhoId", target.record_id)
        elif target.object_type in _WHAT:
            fields.setdefault("WhatId", target.record_id)
    if decision.owner_id:
        fields["OwnerId"] = decision.owner_id
    return fields


class SalesforceWriter:
    """One sObject Collections call per batch; `call` is the project's single retry policy."""

    crm = Crm.SALESFORCE
    stage_batch = BATCH
    task_batch = BATCH
    one_type_per_call = False
    idempotent_tasks = True  # upsert on Revops_Key__c

    def __init__(self, connection: SalesforceConnection) -> None:
        self._conn = connection

    @property
    def daily(self) -> tuple[int, int] | None:
        """(used, limit) from the last Sforce-Limit-Info header."""
        return self._conn.api_usage

    def update(self, writes: Sequence[PlannedWrite], *, clear: bool = False) -> list[WriteResult]:
        """Stage fields on Leads/Contacts; Salesforce has no forward-only fields, so no clears."""
        if clear:
            return []
        records = [{"attributes": {"type": w.object_type}, "Id": w.record_id, **w.properties} for w in writes]
        return self._collection("composite/sobjects", records, writes)

    def create_tasks(self, writes: Sequence[PlannedWrite]) -> list[WriteResult]:
        records = [{"attributes": {"type": "Task"}, **w.properties} for w in writes]
        return self._collection(f"composite/sobjects/Task/{KEY_FIELD}", records, writes)

    def find_tasks(self, keys: Sequence[str]) -> dict[str, str]:
        """Nothing to look up: the upsert on the external ID is idempotent by itself."""
        del keys
        return {}

    def _collection(
        self, path: str, records: list[dict[str, Any]], writes: Sequence[PlannedWrite]
    ) -> list[WriteResult]:
        body = {"allOrNone": False, "records": records}
        answer = self._conn.call(lambda sf: sf.restful(path, method="PATCH", json=body), what=path) or []
        results = []
        for write, item in zip(writes, answer, strict=False):  # answers come in request order
            if item.get("success"):
                results.append(WriteResult(write.key, Outcome.SENT, crm_id=item.get("id")))
                continue
            errors = item.get("errors") or [{}]
            codes = {str(e.get("statusCode", "")) for e in errors}
            text = "; ".join(f"{e.get('statusCode', '')}: {e.get('message', '')}" for e in errors)
            outcome = Outcome.FAILED if codes <= _TRANSIENT else Outcome.DEAD
            results.append(WriteResult(write.key, outcome, error=text))
        results += [
            WriteResult(w.key, Outcome.FAILED, error="no result returned for this record")
            for w in writes[len(answer) :]
        ]
        return results
