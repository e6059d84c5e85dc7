"""The operator table: each mapping condition compiles once, at load, into a plain closure.

A closure takes (facts, now) and returns a bool; `facts[name]` gives a canonical field's typed
value or None when missing (the engine's lazy Facts reads a field only when a rule asks).
Nothing is evaluated as Python source: the YAML picks an operator from this fixed table and
supplies literal operands.

`compile_condition(cond, track=True)` builds the same closure except that each comparison with
`now` it evaluates (older_than, newer_than) also notes, on the facts object (a `Horizon`), the
instant it would flip. Both operators are monotone in time (`got + span` is the one instant
either changes value), so the earliest noted instant bounds how long the result stays the same.
The untracked closures, which the engine's `evaluate` uses, are not slowed by this.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from connector.rules.schema import All, AnyOf, Condition, Leaf, Not

Facts = Mapping[str, Any]
Check = Callable[[Facts, datetime], bool]
MAX_MATCH_INPUT = 1000  # bounded regex input: long free text is cut before matching
TIME_OPERATORS = frozenset({"older_than", "newer_than"})  # the operators that read `now`

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Horizon(Protocol):
    """What tracked closures write to: the earliest instant after `now` at which a comparison
    they evaluated changes value (the engine's tracked evaluation state)."""

    horizon: datetime | None


def note_flip(facts: Facts, at: datetime) -> None:
    """Record that a comparison evaluated on `facts` changes value at `at` (keep the earliest)."""
    seen = cast("Horizon", facts)
    if seen.horizon is None or at < seen.horizon:
        seen.horizon = at


def flips_at(got: datetime, span: timedelta) -> datetime | None:
    """`got + span`, or None when that lies past the calendar's end (it never arrives)."""
    try:
        return got + span
    except OverflowError:
        return None


def duration(text: str) -> timedelta:
    """'30d' -> 30 days (the schema guarantees the shape)."""
    return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})


def _leaf(leaf: Leaf, track: bool) -> Check:
    f = leaf.field
    ((op, x),) = leaf.operators().items()
    if op == "eq":
        return lambda v, _n: v[f] == x
    if op == "ne":
        return lambda v, _n: v[f] != x
    if op in {"in", "not_in"}:
        allowed = frozenset(x)
        if op == "in":
            return lambda v, _n: v[f] in allowed
        return lambda v, _n: v[f] not in allowed
    if op in {"gt", "gte", "lt", "lte", "between"}:
        return _compare(f, op, x)
    if op == "exists":
        return lambda v, _n: v[f] is not None
    if op == "missing":
        return lambda v, _n: v[f] is None
    if op == "contains":
        return lambda v, _n: (got := v[f]) is not None and x in got
    if op == "matches":
        search = re.compile(x).search
        return lambda v, _n: isinstance(got := v[f], str) and search(got[:MAX_MATCH_INPUT]) is not None
    span = duration(x)
    if track:
        return _tracked_age(f, span, older=op == "older_than")
    if op == "older_than":
        return lambda v, n: (got := v[f]) is not None and got <= n - span
    return lambda v, n: (got := v[f]) is not None and got > n - span


def _tracked_age(f: str, span: timedelta, *, older: bool) -> Check:
    """older_than / newer_than that also note when they flip: `got <= now - span` holds from
    `got + span` on, `got > now - span` until then, so both change value at `got + span` only."""

    def check(v: Facts, n: datetime) -> bool:
        got = v[f]
        if got is None:
            return False
        held: bool = got <= n - span if older else got > n - span
        at = flips_at(got, span)
        if at is not None and at > n:
            note_flip(v, at)
        return held

    return check


def _compare(f: str, op: str, x: Any) -> Check:
    if op == "between":
        lo, hi = x
        return lambda v, _n: (got := v[f]) is not None and lo <= got <= hi
    if op == "gt":
        return lambda v, _n: (got := v[f]) is not None and got > x
    if op == "gte":
        return lambda v, _n: (got := v[f]) is not None and got >= x
    if op == "lt":
        return lambda v, _n: (got := v[f]) is not None and got < x
    return lambda v, _n: (got := v[f]) is not None and got <= x


def _all(parts: tuple[Check, ...]) -> Check:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return lambda v, n: a(v, n) and b(v, n)

    def check(v: Facts, n: datetime) -> bool:
        for part in parts:  # noqa: SIM110 - all() over a generator costs a frame per evaluation
            if not part(v, n):
                return False
        return True

    return check


def _any(parts: tuple[Check, ...]) -> Check:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return lambda v, n: a(v, n) or b(v, n)

    def check(v: Facts, n: datetime) -> bool:
        for part in parts:  # noqa: SIM110 - any() over a generator costs a frame per evaluation
            if part(v, n):
                return True
        return False

    return check


def _at_least(need: int, parts: tuple[Check, ...]) -> Check:
    def check(v: Facts, n: datetime) -> bool:
        held = 0
        for part in parts:  # every part runs (no early exit), so each field it reads is judged
            if part(v, n):
                held += 1
        return held >= need

    return check


def compile_condition(cond: Condition, *, track: bool = False) -> Check:
    """Compile a condition tree into one closure (combinators short-circuit like all/any).

    `track=True`: the closure must be called with a `Horizon` as facts; see the module docstring.
    """
    if isinstance(cond, Leaf):
        return _leaf(cond, track)
    if isinstance(cond, All):
        return _all(tuple(compile_condition(c, track=track) for c in cond.all))
    if isinstance(cond, AnyOf):
        return _any(tuple(compile_condition(c, track=track) for c in cond.any))
    if isinstance(cond, Not):
        inner = compile_condition(cond.not_, track=track)
        return lambda v, n: not inner(v, n)
    return _at_least(cond.at_least, tuple(compile_condition(c, track=track) for c in cond.of))


def reads_time(cond: Condition | None) -> bool:
    """Whether a condition compares anything with `now` (its result can change with time alone)."""
    if cond is None:
        return False
    if isinstance(cond, Leaf):
        return any(op in TIME_OPERATORS for op in cond.operators())
    if isinstance(cond, All):
        children: list[Condition] = cond.all
    elif isinstance(cond, AnyOf):
        children = cond.any
    elif isinstance(cond, Not):
        children = [cond.not_]
    else:
        children = cond.of
    return any(reads_time(c) for c in children)


def fields_read(cond: Condition | None) -> tuple[str, ...]:
    """The canonical fields a condition reads, in first-use order (recorded as its inputs)."""
    if cond is None:
        return ()
    if isinstance(cond, Leaf):
        return (cond.field,)
    children: list[Condition]
    if isinstance(cond, All):
        children = cond.all
    elif isinstance(cond, AnyOf):
        children = cond.any
    elif isinstance(cond, Not):
        children = [cond.not_]
    else:
        children = cond.of
    return tuple(dict.fromkeys(f for c in children for f in fields_read(c)))
