"""The relay resuming a HubSpot backward move whose last attempt got no answer.

The store and the writer are the relay's two ports (`OutboxStore`, `Writer`), recorded in memory
here so each case states exactly what the relay sends; the sandboxes cover the same path end to
end in tests/faults/test_writes.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from connector.model import Crm
from connector.push.relay import Queued, Relay
from connector.push.writes import Outcome, PlannedWrite, WriteKind, WriteResult

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=2)
BACKWARD = PlannedWrite(
    key="k1",
    crm=Crm.HUBSPOT,
    kind=WriteKind.STAGE,
    object_type="contacts",
    record_id="101",
    person_id="p1",
    rule_id="recycle.mql_no_sal",
    mapping_version="v1",
    properties={"lifecyclestage": "other"},
    expected={"lifecyclestage": "marketingqualifiedlead"},
    clear_first=("lifecyclestage",),
)


@dataclass
class Store:
    rows: list[Queued]
    mirrored: Mapping[str, str | None] | None
    finished: list[tuple[str, WriteResult]] = field(default_factory=list)

    def queued(self, crm: Crm) -> list[Queued]:
        return self.rows if crm is Crm.HUBSPOT else []

    def current(self, writes: Sequence[PlannedWrite]) -> dict[str, Mapping[str, str | None] | None]:
        return {w.key: self.mirrored for w in writes}

    def begin(self, writes: Sequence[PlannedWrite], operation: str) -> None:
        pass

    def finish(self, results: Sequence[WriteResult], operation: str) -> None:
        self.finished += [(operation, r) for r in results]


@dataclass
class Writer:
    crm: Crm = Crm.HUBSPOT
    stage_batch: int = 100
    task_batch: int = 100
    idempotent_tasks: bool = False
    one_type_per_call: bool = True
    daily: tuple[int, int] | None = None
    sent: list[tuple[str, str]] = field(default_factory=list)  # (clear|set, record id)

    def update(self, writes: Sequence[PlannedWrite], *, clear: bool = False) -> list[WriteResult]:
        self.sent += [("clear" if clear else "set", w.record_id or "") for w in writes]
        return [WriteResult(w.key, Outcome.SENT, crm_id=w.record_id) for w in writes]

    def create_tasks(self, writes: Sequence[PlannedWrite]) -> list[WriteResult]:
        raise AssertionError("no task in these cases")

    def find_tasks(self, keys: Sequence[str]) -> dict[str, str]:
        raise AssertionError("no task in these cases")


@pytest.mark.parametrize(
    ("ambiguous", "attempt_age", "mirrored", "sent", "unknown"),
    [
        # a plain queued backward move: clear, then set
        (False, None, "marketingqualifiedlead", [("clear", "101"), ("set", "101")], 0),
        # the clear timed out a moment ago and the mirror still shows the old value: it may be
        # in flight, and landing after a new set it would empty the field, so nothing is sent
        (True, timedelta(seconds=5), "marketingqualifiedlead", [], 1),
        # the mirror shows the field cleared: that clear landed, only the set is left
        (True, timedelta(seconds=5), "", [("set", "101")], 0),
        (True, timedelta(seconds=5), None, [("set", "101")], 0),
        # past the grace the clear is taken as lost: clear and set again
        (True, timedelta(minutes=3), "marketingqualifiedlead", [("clear", "101"), ("set", "101")], 0),
    ],
    ids=["queued", "in-flight", "cleared", "cleared-null", "grace-passed"],
)
def test_ambiguous_clear_is_never_overtaken_by_its_set(
    ambiguous: bool,
    attempt_age: timedelta | None,
    mirrored: str | None,
    sent: list[tuple[str, str]],
    unknown: int,
) -> None:
    last = NOW - attempt_age if attempt_age else None
    store = Store([Queued(BACKWARD, ambiguous=ambiguous, last_attempt_at=last)], {"lifecyclestage": mirrored})
    writer = Writer()

    report = Relay(store, {Crm.HUBSPOT: writer}, ambiguous_grace=GRACE, clock=lambda: NOW).drain()

    assert writer.sent == sent
    assert report.count(Outcome.UNKNOWN) == unknown
    settled = [r.outcome for op, r in store.finished if op == "stage"]
    assert settled == ([Outcome.SENT] if sent else [])


def test_ambiguous_set_without_clear_is_resent_at_once() -> None:
    """A forward move has no clear: re-sending the same value is harmless, so no wait."""
    forward = replace(BACKWARD, clear_first=())
    store = Store([Queued(forward, ambiguous=True, last_attempt_at=NOW)], dict(forward.expected))
    writer = Writer()

    Relay(store, {Crm.HUBSPOT: writer}, ambiguous_grace=GRACE, clock=lambda: NOW).drain()

    assert writer.sent == [("set", "101")]
