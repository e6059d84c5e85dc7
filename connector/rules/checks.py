"""Semantic checks a schema cannot express: names that must exist, stages that must connect.

Each check yields (path, point_at_key, message, hint); the loader turns paths into file places.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from connector.model import LADDER, SIDE_STATES, Stage, ladder_rank
from connector.rules.fields import DERIVED_FIELDS
from connector.rules.schema import All, AnyOf, AtLeast, Condition, Leaf, MappingFile, Not

Found = tuple[tuple[str | int, ...], bool, str, str]
_NUMERIC_OPS = {"gt", "gte", "lt", "lte", "between"}
_TIME_OPS = {"older_than", "newer_than"}
_VALUE_OPS = {"eq", "ne", "in", "not_in", "contains"}
# Nested quantifiers like (a+)+ and backreferences are what make a regex blow up; refuse them.
_CATASTROPHIC = re.compile(r"\([^()]*[+*}][^()]*\)\s*[+*{]|\\[1-9]")


def field_types(model: MappingFile) -> dict[str, str]:
    """Every canonical field a rule may read, with its type (declared plus derived)."""
    return {**DERIVED_FIELDS, **{name: f.type or "string" for name, f in model.fields.items()}}


def _enum_values(model: MappingFile, field: str) -> set[str] | None:
    definition = model.fields.get(field)
    if definition is None or definition.type not in {"enum", "stage"}:
        return {s.value for s in Stage} if field in {"stage", "crm_stages"} else None
    if definition.type == "stage":
        return {s.value for s in Stage}
    return {v for per_crm in definition.values.values() for v in per_crm.values()}


def _value_ok(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def _check_leaf(leaf: Leaf, path: tuple[str | int, ...], model: MappingFile) -> Iterator[Found]:
    types = field_types(model)
    kind = types.get(leaf.field)
    if kind is None:
        yield (
            (*path, "field"),
            False,
            f"unknown field '{leaf.field}'",
            f"declare it under fields: ({', '.join(sorted(types))})",
        )
        return
    ((op, value),) = leaf.operators().items()
    if op in _NUMERIC_OPS and kind != "number":
        yield (
            (*path, op),
            True,
            f"'{op}' needs a number field; '{leaf.field}' is {kind}",
            "use eq/in, or a number field",
        )
    elif op in _TIME_OPS and kind != "datetime":
        yield (
            (*path, op),
            True,
            f"'{op}' needs a datetime field; '{leaf.field}' is {kind}",
            "use a *_at field",
        )
    elif op == "matches":
        if kind not in {"string", "enum"}:
            yield (*path, op), True, f"'matches' needs a text field; '{leaf.field}' is {kind}", "use eq/in"
        elif _CATASTROPHIC.search(value):
            yield (*path, op), False, "regex has nested quantifiers or backreferences", "simplify the pattern"
        else:
            try:
                re.compile(value)
            except re.error as exc:
                yield (*path, op), False, f"invalid regex: {exc}", "check brackets and escapes"
    elif op in _VALUE_OPS and kind != "list":
        items = value if isinstance(value, list) else [value]
        allowed = _enum_values(model, leaf.field)
        for i, item in enumerate(items):
            where = (*path, op, i) if isinstance(value, list) else (*path, op)
            if not _value_ok("string" if kind in {"enum", "stage", "datetime"} else kind, item):
                yield (
                    where,
                    False,
                    f"'{leaf.field}' is {kind}; {item!r} is not",
                    f"compare with a {kind} value",
                )
            elif allowed is not None and item not in allowed:
                yield where, False, f"'{item}' is not a value of '{leaf.field}'", f"one of {sorted(allowed)}"
    elif op == "contains" and kind == "list" and value not in {s.value for s in Stage}:
        yield (*path, op), False, f"unknown stage '{value}'", f"one of {[s.value for s in Stage]}"


def check_condition(cond: Condition, path: tuple[str | int, ...], model: MappingFile) -> Iterator[Found]:
    """Walk a condition tree checking every leaf's field and operator against the field's type."""
    if isinstance(cond, Leaf):
        yield from _check_leaf(cond, path, model)
    elif isinstance(cond, All):
        for i, c in enumerate(cond.all):
            yield from check_condition(c, (*path, "all", i), model)
    elif isinstance(cond, AnyOf):
        for i, c in enumerate(cond.any):
            yield from check_condition(c, (*path, "any", i), model)
    elif isinstance(cond, Not):
        yield from check_condition(cond.not_, (*path, "not"), model)
    elif isinstance(cond, AtLeast):
        if cond.at_least > len(cond.of):
            yield (*path, "at_least"), False, f"at_least {cond.at_least} of {len(cond.of)}", "can never hold"
        for i, c in enumerate(cond.of):
            yield from check_condition(c, (*path, "of", i), model)


def _check_stages(model: MappingFile, declared: set[Stage]) -> Iterator[Found]:
    ranks = [ladder_rank(s) for s in model.ladder]
    if Stage.LEAD not in model.ladder:
        yield (
            ("ladder",),
            False,
            "the ladder must contain 'lead'",
            f"canonical ladder: {[s.value for s in LADDER]}",
        )
    for i, stage in enumerate(model.ladder):
        if stage in SIDE_STATES:
            yield (
                ("ladder", i),
                False,
                f"'{stage}' is a side state, not a ladder stage",
                "list it in side_states",
            )
        elif i and ranks[i] <= ranks[i - 1]:
            yield (
                ("ladder", i),
                False,
                f"'{stage}' is out of order",
                f"canonical order: {[s.value for s in LADDER]}",
            )
    for i, stage in enumerate(model.side_states):
        if stage not in SIDE_STATES:
            yield ("side_states", i), False, f"'{stage}' is a ladder stage", "list it in ladder"
    for section in ("advance", "recycle", "churn", "tasks"):
        for i, rule in enumerate(getattr(model, section)):
            targets = [("to", rule.to)] if hasattr(rule, "to") else []
            sources = [("from", rule.from_)] if getattr(rule, "from_", None) else []
            if section == "tasks":
                sources = [("stages", rule.stages)]
            for key, stage in targets:
                if stage not in declared:
                    verb = "targets" if section in {"recycle", "churn"} else "moves to"
                    yield (
                        (section, i, key),
                        False,
                        f"{section} rule '{rule.id}' {verb} undeclared stage '{stage}'",
                        "add it to ladder/side_states or fix the rule",
                    )
            for key, stages in sources:
                for j, stage in enumerate(stages):
                    if stage not in declared:
                        yield (
                            (section, i, key, j),
                            False,
                            f"unknown stage '{stage}' (not declared in this mapping)",
                            "add it to ladder/side_states",
                        )


def _check_moves(model: MappingFile) -> Iterator[Found]:
    for i, adv in enumerate(model.advance):
        if adv.to not in LADDER:
            yield (
                ("advance", i, "to"),
                False,
                f"advance rule '{adv.id}' moves to side state '{adv.to}'",
                "side states are reached by recycle/churn rules",
            )
        for j, src in enumerate(adv.from_ or []):
            if src in LADDER and ladder_rank(src) >= ladder_rank(adv.to):
                yield (
                    ("advance", i, "from", j),
                    False,
                    f"'{src}' -> '{adv.to}' is not forward",
                    "backward moves belong in recycle",
                )
    for i, back in enumerate(model.recycle):
        for j, src in enumerate(back.from_):
            if src in {Stage.CUSTOMER, Stage.EVANGELIST}:
                yield (
                    ("recycle", i, "from", j),
                    False,
                    f"recycle rule '{back.id}' would demote a {src}",
                    "customers only leave through churn rules",
                )
    for i, back in enumerate(model.churn):
        if back.to not in SIDE_STATES:
            yield (
                ("churn", i, "to"),
                False,
                f"churn rule '{back.id}' must move to a side state",
                "usually churned",
            )


def _check_times(model: MappingFile) -> Iterator[Found]:
    types = field_types(model)
    rules: list[tuple[str, int, Any]] = [
        (s, i, r) for s in ("recycle", "churn", "tasks") for i, r in enumerate(getattr(model, s))
    ]
    for section, i, rule in rules:
        for key in ("since", "satisfied_by"):
            name = getattr(rule, key, None)
            if name is None or (key == "since" and name == "stage_entered"):
                continue
            if types.get(name) != "datetime":
                found = "unknown field" if name not in types else f"field of type {types[name]}"
                yield (
                    (section, i, key),
                    False,
                    f"{key} '{name}': {found}, needs a datetime field",
                    "stage_entered or a *_at field",
                )
    for name in model.precedence.fields:
        if name not in model.fields:
            yield ("precedence", "fields", name), True, f"unknown field '{name}'", "declare it under fields:"
    for name, definition in model.fields.items():
        if definition.type is None:
            yield ("fields", name), True, f"field '{name}' has no type", "add `type:` (string, number, ...)"
        if definition.type == "stage":
            for crm, values in definition.values.items():
                for raw, canonical in values.items():
                    if canonical not in {s.value for s in Stage}:
                        yield (
                            ("fields", name, "values", crm.value, raw),
                            False,
                            f"unknown stage '{canonical}'",
                            f"one of {[s.value for s in Stage]}",
                        )


def _check_entered_at(model: MappingFile) -> Iterator[Found]:
    """A stage-entry property names the field's own records and one `{value}` slot, nothing else."""
    for name, definition in model.fields.items():
        if definition.entered_at and definition.type != "stage":
            yield (
                ("fields", name, "entered_at"),
                True,
                f"entered_at on field '{name}' of type {definition.type}",
                "only stage fields have entry times",
            )
            continue
        for crm, per_object in definition.entered_at.items():
            sourced = definition.sources.get(crm, {})
            for object_type, template in per_object.items():
                path = ("fields", name, "entered_at", crm.value, object_type)
                if object_type not in sourced:
                    yield (
                        path,
                        True,
                        f"no {crm.value} {object_type} source for '{name}'",
                        f"one of {sorted(sourced)}" if sourced else f"add sources: {crm.value}: ...",
                    )
                elif template.count("{value}") != 1 or set("{}") & set(template.replace("{value}", "")):
                    yield (
                        path,
                        False,
                        f"'{template}' must hold exactly one {{value}} and no other braces",
                        "e.g. hs_v2_date_entered_{value}",
                    )


def _reachable(model: MappingFile) -> set[Stage]:
    evidence = {
        Stage(v)
        for f in model.fields.values()
        if f.type == "stage"
        for m in f.values.values()
        for v in m.values()
        if v in Stage.__members__.values()
    }
    edges: list[tuple[set[Stage] | None, Stage]] = [
        (set(a.from_) if a.from_ else None, a.to) for a in model.advance
    ]
    edges += [(set(b.from_), b.to) for b in (*model.recycle, *model.churn)]
    seen = {Stage.LEAD}
    changed = True
    while changed:
        changed = False
        for sources, target in edges:
            forward = sources is None and any(
                ladder_rank(s) < ladder_rank(target) for s in seen if s in LADDER
            )
            if target not in seen and (forward or (sources is not None and sources & seen)):
                seen.add(target)
                changed = True
        for stage in evidence - seen:
            if stage in LADDER and any(ladder_rank(s) < ladder_rank(stage) for s in seen if s in LADDER):
                seen.add(stage)
                changed = True
    return seen


def check_semantics(model: MappingFile) -> Iterator[Found]:
    """Every semantic problem of a structurally valid mapping."""
    declared = set(model.ladder) | set(model.side_states)
    yield from _check_stages(model, declared)
    yield from _check_moves(model)
    yield from _check_times(model)
    yield from _check_entered_at(model)
    for section in ("advance", "recycle", "churn", "tasks"):
        for i, rule in enumerate(getattr(model, section)):
            if rule.when is not None:
                yield from check_condition(rule.when, (section, i, "when"), model)
    reachable = _reachable(model)
    for i, stage in enumerate(model.ladder):
        if ladder_rank(stage) > ladder_rank(Stage.LEAD) and stage not in reachable:
            yield (
                ("ladder", i),
                False,
                f"stage '{stage}' is unreachable from lead",
                "add an advance rule or a value map entry for it",
            )
    for i, stage in enumerate(model.side_states):
        if stage not in reachable:
            yield (
                ("side_states", i),
                False,
                f"stage '{stage}' is unreachable from lead",
                "add a recycle or churn rule moving to it",
            )
