"""The read side every CRM adapter offers: its streams, and pages of changes inside a window.

Adapters are stateless about cursors: `connector.pull` owns positions, fixes the window and
commits each page with its resume key, so cursor logic exists once for both CRMs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from connector.crm.streams import Stream
from connector.model import Crm, SourceRecord

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ResumeKey:
    """Where to continue inside a window: the last record's cursor value and id (or a list token).

    HubSpot search orders by id inside a fixed window, so only `token` (the hs_object_id) matters;
    Salesforce orders by (SystemModstamp, Id), so both do; the archived list uses its paging token.
    """

    token: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """Changes with `lo <= cursor field <= hi`, after `after` in the adapter's order.

    `hi` is fixed at the cycle's start, so records edited while we page fall into the next cycle
    instead of shifting the result set under us; `lo` already includes the lookback.
    """

    lo: datetime | None
    hi: datetime
    after: ResumeKey | None = None
    # the previous watermark: records modified at or before it may already be mirrored (lookback)
    overlap_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One unit committed to the mirror with its resume key (one or a few API calls' worth)."""

    records: list[SourceRecord]
    after: ResumeKey | None  # resume here if the process dies after this page commits
    max_seen: datetime | None  # the largest cursor value among `records` (server time)
    last: bool  # no more pages in this window
    api_calls: int = 0
    remaining: int | None = None  # records the CRM says are still to come (for progress bars)
    skipped: int = 0  # records dropped as unusable (no id / no timestamp), logged by the adapter


@dataclass(frozen=True, slots=True)
class Quota:
    """What the CRM last told us about the allowance; None when it does not say (HubSpot search)."""

    used: int | None = None
    limit: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


Known = Callable[[Stream, Sequence[tuple[str, datetime]]], set[str]]
"""Of these (record id, modification time) pairs, the ids the mirror already holds at that time."""


class CrmReader(Protocol):
    """A CRM adapter's read side."""

    crm: Crm

    @property
    def streams(self) -> tuple[Stream, ...]: ...

    @property
    def api_calls(self) -> int:
        """Requests sent so far by this adapter (including retries and token refreshes)."""
        ...

    def pull(self, stream: Stream, window: Window, known: Known | None = None) -> Iterator[Page]:
        """Pages of records changed in `window`, in resume-key order; the last page has `last=True`.

        Records in the lookback overlap that `known` reports as already mirrored at the same
        modification time are dropped before any follow-up call (associations), so a cycle
        with nothing changed costs one call per stream.
        """
        ...

    def quota(self) -> Quota: ...


def parse_crm_time(value: object) -> datetime | None:
    """A CRM timestamp (ISO 8601 with Z or ±hhmm, or epoch milliseconds) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def drop_known(
    stream: Stream,
    items: list[T],
    key: Callable[[T], tuple[str, datetime | None]],
    window: Window,
    known: Known | None,
) -> list[T]:
    """`items` minus those in the lookback overlap the mirror already holds unchanged."""
    if known is None or window.overlap_until is None:
        return items
    until = window.overlap_until
    candidates = [(rid, at) for rid, at in map(key, items) if at is not None and at <= until]
    if not candidates:
        return items
    seen = known(stream, candidates)
    return [i for i in items if key(i)[0] not in seen] if seen else items
