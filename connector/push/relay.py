"""Drain the outbox into the CRMs in each CRM's largest batches, recording every attempt.

Order per CRM: judge each queued write against the mirror (conflict / already applied / send),
resolve ambiguous HubSpot tasks by key lookup and ambiguous clears by the mirror, then send
HubSpot clears before sets (a backward lifecycle move is two ordered requests), then stage sets,
then tasks. Each batch is marked as attempted and committed *before* the request, so a crash
anywhere leaves either an unsent row or an ambiguous one, never a lost or forgotten write.

Failure kinds (connector.errors) decide what happens: RetryableError (after the single retry
policy gave up) leaves the rows queued; FatalError on a batch is bisected down to the record that
causes it, which is dead-lettered; QuotaExhausted or a daily usage past `quota_share` stops this
CRM's pushing for the cycle and says so in the report.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from connector.config import DEFAULT_AMBIGUOUS_GRACE
from connector.errors import FatalError, QuotaExhausted, RetryableError
from connector.model import Crm
from connector.push.conflicts import Verdict, judge, supersede
from connector.push.crash import crash_point
from connector.push.writes import Outcome, PlannedWrite, WriteKind, WriteResult

log = logging.getLogger(__name__)
T = TypeVar("T")

_RECORD_FAULTS = frozenset({400, 404, 409, 422})  # a whole-batch refusal one record can cause


@dataclass(frozen=True, slots=True)
class Queued:
    """An outbox row the relay still has to settle; `ambiguous` if an attempt had no recorded result."""

    write: PlannedWrite
    ambiguous: bool = False
    last_attempt_at: datetime | None = None


class Writer(Protocol):
    crm: Crm
    stage_batch: int
    task_batch: int
    idempotent_tasks: bool  # a task resend cannot duplicate (upsert on a key): no lookup needed
    one_type_per_call: bool  # the update endpoint takes one object type per request

    @property
    def daily(self) -> tuple[int, int] | None: ...

    def update(self, writes: Sequence[PlannedWrite], *, clear: bool = False) -> list[WriteResult]: ...

    def create_tasks(self, writes: Sequence[PlannedWrite]) -> list[WriteResult]: ...

    def find_tasks(self, keys: Sequence[str]) -> dict[str, str]: ...


class OutboxStore(Protocol):
    """What the relay needs from the mirror; `connector.push.store` adapts the mirror to it."""

    def queued(self, crm: Crm) -> list[Queued]: ...

    def current(self, writes: Sequence[PlannedWrite]) -> dict[str, Mapping[str, str | None] | None]:
        """write key -> the target record's latest mirrored properties (None: not mirrored)."""
        ...

    def begin(self, writes: Sequence[PlannedWrite], operation: str) -> None: ...

    def finish(self, results: Sequence[WriteResult], operation: str) -> None: ...


@dataclass
class CrmReport:
    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None  # why pushing stopped early (quota), else None
    stage_writes: int = 0
    task_writes: int = 0


@dataclass
class RelayReport:
    by_crm: dict[Crm, CrmReport] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.by_crm.values())

    def count(self, outcome: Outcome) -> int:
        return sum(r.outcomes[outcome.value] for r in self.by_crm.values())


@dataclass
class Relay:
    store: OutboxStore
    writers: Mapping[Crm, Writer]
    quota_share: float = 0.8  # stop pushing once this share of the daily allowance is used
    # An ambiguous task not found by key is re-created, and an ambiguous clear not yet seen in
    # the mirror re-sent, only once its last attempt is this old (`REVOPS_AMBIGUOUS_GRACE_SECONDS`).
    ambiguous_grace: timedelta = DEFAULT_AMBIGUOUS_GRACE
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def drain(self) -> RelayReport:
        report = RelayReport()
        for crm, writer in self.writers.items():
            crm_report = report.by_crm.setdefault(crm, CrmReport())
            try:
                self._drain(writer, crm_report)
            except QuotaExhausted as exc:
                crm_report.stopped = f"{crm.value}: pushing stopped for this cycle: {exc}"
                log.warning("%s", crm_report.stopped)
        return report

    def _drain(self, writer: Writer, report: CrmReport) -> None:
        sends: list[PlannedWrite] = []
        ambiguous_tasks: list[Queued] = []
        queued = self.store.queued(writer.crm)
        kept, settled = supersede([q.write for q in queued])
        live = {w.key for w in kept}
        queued = [q for q in queued if q.write.key in live]
        current = self.store.current([q.write for q in queued if q.write.kind is WriteKind.STAGE])
        for row in queued:
            write = row.write
            if write.kind is WriteKind.TASK:
                if row.ambiguous and not writer.idempotent_tasks:
                    ambiguous_tasks.append(row)
                else:
                    sends.append(write)
                continue
            verdict = judge(write, current.get(write.key))
            if verdict.verdict is Verdict.SEND:
                resumed = self._resume(row, current.get(write.key)) if row.ambiguous else write
                if resumed is None:
                    report.outcomes[Outcome.UNKNOWN.value] += 1
                else:
                    sends.append(resumed)
            else:
                outcome = Outcome.SENT if verdict.verdict is Verdict.APPLIED else Outcome.CONFLICT
                settled.append(WriteResult(write.key, outcome, crm_id=write.record_id, error=verdict.reason))
        if ambiguous_tasks:
            found, resend = self._look_up(writer, report, ambiguous_tasks)
            settled += found
            sends += resend
        if settled:
            self.store.finish(settled, "judge")
            self._tally(report, settled)

        stages = [w for w in sends if w.kind is WriteKind.STAGE]
        tasks = [w for w in sends if w.kind is WriteKind.TASK]
        not_cleared: set[str] = set()
        clears = [w for w in stages if w.clear_first]
        for chunk in _chunks(clears, writer.stage_batch, by_type=writer.one_type_per_call):
            results = self._batch(writer, report, chunk, "clear", lambda c: writer.update(c, clear=True))
            not_cleared |= {r.key for r in results if r.outcome is not Outcome.SENT}
        sets = [w for w in stages if w.key not in not_cleared]
        for chunk in _chunks(sets, writer.stage_batch, by_type=writer.one_type_per_call):
            self._batch(writer, report, chunk, "stage", writer.update)
        for chunk in _chunks(tasks, writer.task_batch, by_type=False):
            self._batch(writer, report, chunk, "task", writer.create_tasks)

    def _resume(self, row: Queued, current: Mapping[str, str | None] | None) -> PlannedWrite | None:
        """What to send for a stage write whose last attempt got no answer; None: nothing yet.

        A backward move's clear that timed out may still be in flight: landing after our set, it
        would empty the field. Once the mirror shows the field cleared, only the set is left;
        until then the write waits `ambiguous_grace`, as an ambiguous task does.
        """
        write = row.write
        if not write.clear_first:
            return write  # a set alone may be re-sent freely: same value
        if current is not None and all(not current.get(f) for f in write.clear_first):
            return replace(write, clear_first=())
        if row.last_attempt_at is None or row.last_attempt_at <= self.clock() - self.ambiguous_grace:
            return write
        return None

    def _look_up(
        self, writer: Writer, report: CrmReport, rows: Sequence[Queued]
    ) -> tuple[list[WriteResult], list[PlannedWrite]]:
        """Settle ambiguous tasks by key: (found in the CRM, to create). What is neither found nor
        old enough stays unknown for a later cycle: never re-create what might still appear."""
        try:
            found = self._call(report, lambda: writer.find_tasks([r.write.key for r in rows]))
        except (RetryableError, FatalError) as exc:
            log.warning("%s: task key lookup failed, %d stay unknown: %s", writer.crm, len(rows), exc)
            report.outcomes[Outcome.UNKNOWN.value] += len(rows)
            return [], []
        settled = [
            WriteResult(r.write.key, Outcome.SENT, crm_id=found[r.write.key])
            for r in rows
            if r.write.key in found
        ]
        cutoff = self.clock() - self.ambiguous_grace
        missing = [r for r in rows if r.write.key not in found]
        resend = [r.write for r in missing if r.last_attempt_at is None or r.last_attempt_at <= cutoff]
        report.outcomes[Outcome.UNKNOWN.value] += len(missing) - len(resend)
        return settled, resend

    def _batch(
        self,
        writer: Writer,
        report: CrmReport,
        chunk: Sequence[PlannedWrite],
        operation: str,
        send: Callable[[Sequence[PlannedWrite]], list[WriteResult]],
    ) -> list[WriteResult]:
        """One request for `chunk`: attempt committed first, results committed after."""
        self._check_quota(writer)
        self.store.begin(chunk, operation)
        try:
            results = self._call(report, lambda: send(chunk))
        except RetryableError as exc:
            results = [WriteResult(w.key, Outcome.FAILED, error=str(exc), status=exc.status) for w in chunk]
        except FatalError as exc:
            if exc.status not in _RECORD_FAULTS:  # 401/403...: the setup, not a record: stop, keep rows
                self.store.finish(
                    [WriteResult(w.key, Outcome.FAILED, error=str(exc)) for w in chunk], operation
                )
                raise
            if len(chunk) > 1:  # one bad record refused the whole batch: isolate it
                half = len(chunk) // 2
                return self._batch(writer, report, chunk[:half], operation, send) + self._batch(
                    writer, report, chunk[half:], operation, send
                )
            results = [WriteResult(chunk[0].key, Outcome.DEAD, error=str(exc), status=exc.status)]
        except QuotaExhausted as exc:
            self.store.finish(_failed(chunk, exc, 429), operation)
            raise
        crash_point("after_crm_2xx", writer.crm.value, operation)
        if operation == "clear":  # a clear alone settles nothing: the set still has to follow
            failed = [r for r in results if r.outcome is not Outcome.SENT]
            self.store.finish(failed, operation)
            self._tally(report, failed)
        else:
            self.store.finish(results, operation)
            self._tally(report, results)
            if operation == "task":
                report.task_writes += sum(r.outcome is Outcome.SENT for r in results)
            else:
                report.stage_writes += sum(r.outcome is Outcome.SENT for r in results)
        crash_point("after_local_commit", writer.crm.value, operation)
        return results

    def _call(self, report: CrmReport, fn: Callable[[], T]) -> T:
        report.calls += 1
        return fn()

    def _check_quota(self, writer: Writer) -> None:
        usage = writer.daily
        if usage and usage[1] > 0 and usage[0] / usage[1] >= self.quota_share:
            raise QuotaExhausted(f"daily API usage {usage[0]}/{usage[1]} is past {self.quota_share:.0%}")

    @staticmethod
    def _tally(report: CrmReport, results: Sequence[WriteResult]) -> None:
        report.outcomes.update(r.outcome.value for r in results)


def _failed(chunk: Sequence[PlannedWrite], exc: Exception, status: int | None) -> list[WriteResult]:
    """Every write of a request that failed as a whole, kept queued (retryable) with the reason."""
    return [WriteResult(w.key, Outcome.FAILED, error=str(exc), status=status) for w in chunk]


def _chunks(writes: Sequence[PlannedWrite], size: int, *, by_type: bool) -> Iterator[list[PlannedWrite]]:
    """Batches of at most `size`; per object type when the CRM's endpoint takes one type per call."""
    groups: dict[str, list[PlannedWrite]] = {}
    for write in writes:
        groups.setdefault(write.object_type if by_type else "", []).append(write)
    for group in groups.values():
        for start in range(0, len(group), size):
            yield group[start : start + size]
