"""Search filters compiled once per request into predicates over indexed snapshots.

A search evaluates every filter against every visible record, so the per-record work must be a
dictionary lookup and a comparison: filter values are parsed once here, and record values come
from the snapshot's cache of parsed sort keys (`Snapshot.key`), parsed at most once per write.
The predicates reproduce the original per-record semantics exactly, including that an
unsupported operator is only refused when some record has a comparable value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from connector.sandbox.base import ApiError
from connector.sandbox.hubspot.schema import sortable
from connector.sandbox.hubspot.store import Snapshot

Predicate = Callable[[Snapshot], bool]

# Range predicates, one per operator so the comparison is inline rather than a function call.
_RANGE_PREDICATES: dict[str, Callable[[str, type, Any], Predicate]] = {
    "LT": lambda name, kind, want: lambda s: type(h := s.key(name)) is kind and h < want,
    "LTE": lambda name, kind, want: lambda s: type(h := s.key(name)) is kind and h <= want,
    "GT": lambda name, kind, want: lambda s: type(h := s.key(name)) is kind and h > want,
    "GTE": lambda name, kind, want: lambda s: type(h := s.key(name)) is kind and h >= want,
}
RANGE = frozenset(_RANGE_PREDICATES)
KNOWN_OPERATORS = frozenset(
    {*RANGE, "EQ", "NEQ", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
     "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
)  # fmt: skip


def name_and_op(flt: dict[str, Any]) -> tuple[str, str]:
    return str(flt.get("propertyName", "")), str(flt.get("operator", "EQ")).upper()


def _never(_snap: Snapshot) -> bool:
    return False


def _presence(name: str, present: bool) -> Predicate:
    return lambda snap: (snap.props.get(name) not in (None, "")) == present


def _membership(name: str, flt: dict[str, Any], inside: bool) -> Predicate:
    wanted = {sortable(name, str(v)) for v in flt.get("values") or []}

    def member(snap: Snapshot) -> bool:
        have = snap.key(name)
        return (have in wanted) == inside if have is not None else not inside

    return member


def _token(name: str, flt: dict[str, Any], found: bool) -> Predicate:
    token = str(flt.get("value", "")).lower().strip("*")
    return lambda snap: (token in (snap.props.get(name) or "").lower()) == found


def _ordered(name: str, op: str, flt: dict[str, Any], want: Any) -> Predicate:
    """Range-like operators: a record matches only when its key has the filter value's type."""
    kind = type(want)
    if op == "BETWEEN":
        high = sortable(name, str(flt.get("highValue", "")))
        if type(high) is not kind:
            return _never
        return lambda snap: type(have := snap.key(name)) is kind and want <= have <= high  # type: ignore[operator]
    if op in RANGE:
        return _RANGE_PREDICATES[op](name, kind, want)

    def unsupported(snap: Snapshot) -> bool:
        if type(snap.key(name)) is kind:
            raise ApiError(400, {"category": "VALIDATION_ERROR", "message": f"Unsupported operator {op}"})
        return False

    return unsupported


def compile_filter(flt: dict[str, Any]) -> Predicate:
    name, op = name_and_op(flt)
    if op in {"HAS_PROPERTY", "NOT_HAS_PROPERTY"}:
        return _presence(name, op == "HAS_PROPERTY")
    if op in {"IN", "NOT_IN"}:
        return _membership(name, flt, op == "IN")
    if op in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
        return _token(name, flt, op == "CONTAINS_TOKEN")
    want = sortable(name, str(flt.get("value", "")))
    if op == "EQ":
        return lambda snap: snap.key(name) == want
    if op == "NEQ":
        return lambda snap: snap.key(name) != want
    return _never if want is None else _ordered(name, op, flt, want)


def compile_groups(groups: Sequence[dict[str, Any]]) -> Predicate | None:
    """filterGroups ORed, filters ANDed in request order; None when there is nothing to filter."""
    if not groups:
        return None
    compiled = [[compile_filter(f) for f in g.get("filters") or []] for g in groups]
    if len(compiled) == 1:
        return _conjunction(compiled[0])

    def match(snap: Snapshot) -> bool:
        return any(all(p(snap) for p in group) for group in compiled)

    return match


def _conjunction(preds: list[Predicate]) -> Predicate:
    """One group, unrolled for the common sizes: this runs once per record per search."""
    if not preds:
        return lambda _snap: True
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda snap: a(snap) and b(snap)
    if len(preds) == 3:
        a, b, c = preds
        return lambda snap: a(snap) and b(snap) and c(snap)
    return lambda snap: all(p(snap) for p in preds)
