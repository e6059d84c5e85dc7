"""The loaded mapping, compiled for evaluation: frozen tables and closures, no YAML left.

Compilation happens once per load; `evaluate` then only does dictionary look-ups and calls
precompiled closures, which is what lets it judge 100k+ people a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from string import Template
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from connector.model import LADDER, Crm, Stage, ladder_rank
from connector.rules.conditions import Check, compile_condition, duration, fields_read, reads_time
from connector.rules.fields import DEAL_FIELDS, PARSERS, BadValueError
from connector.rules.schema import FieldDef, MappingFile, Phase, TaskSpec

RANK_NONE = -2  # a person with no canonical stage yet sits below every stage, side states included


RANKS: dict[Stage | None, int] = {None: RANK_NONE, **{s: ladder_rank(s) for s in Stage}}


def rank(stage: Stage | None) -> int:
    """Ladder rank with side states at -1 and 'no stage yet' at -2."""
    return RANKS[stage]


@dataclass(frozen=True, slots=True)
class Source:
    """One canonical field as one CRM object type stores it."""

    field: str
    prop: str
    kind: str
    parse: Callable[[str], Any] | None  # None for enum/stage: read through `values`
    values: MappingProxyType[str, str] | None


Convert = Callable[[str], Any]  # raw CRM text -> typed value; raises BadValueError
# How to read one canonical field: CRMs in precedence order, and per CRM and object type the
# property plus its converter (None: the raw text is the value). Plain nested dicts: this is
# looked up for every field an evaluation reads; a MappingProxyType look-up costs a method call
# and a (crm, object type) key a tuple.
# The CRMs without a source for the field are left out.
Reader = tuple[tuple[Crm, dict[str, tuple[str, Convert | None]]], ...]


@dataclass(frozen=True, slots=True)
class StageValue:
    """One raw value of a CRM stage property that reads as a canonical stage, with all a
    value-map move records about it that does not depend on the record: built once per mapping,
    so a person's evidence is a (StageValue, record) pair and no per-evaluation object."""

    stage: Stage
    rank: int
    on_ladder: bool
    field: str  # the canonical stage field
    raw: str
    rule_id: str  # "value-map:<field>"
    entered_prop: str | None  # the property holding when a record entered `raw` (None: unmapped)


# Stage-typed properties one CRM object type carries: (field, property, raw value -> StageValue).
StageRead = tuple[str, str, dict[str, StageValue]]


def _lookup(values: MappingProxyType[str, str]) -> Convert:
    """An enum/stage value map as a converter: an unknown value is a bad value."""
    table = dict(values)

    def convert(raw: str) -> Any:
        canonical = table.get(raw)
        if canonical is None:
            raise BadValueError(f"unknown value {raw!r}")
        return canonical

    return convert


def _converter(src: Source) -> Convert | None:
    if src.values is not None:
        return _lookup(src.values)
    return None if src.parse is None or src.kind == "string" else src.parse


TEMPLATE_WORDS = ("email", "stage", "rule")  # the placeholders a task's subject and body may use


def format_of(template: Template) -> str:
    """`template` as a str.format pattern giving what `safe_substitute` gives for TEMPLATE_WORDS.

    Compiled once per mapping: `format_map` costs a fraction of safe_substitute's regex pass.
    Placeholders other than TEMPLATE_WORDS, and malformed ones, stay as written.
    """
    text, out, pos = template.template, [], 0
    for mo in template.pattern.finditer(text):
        out.append(text[pos : mo.start()].replace("{", "{{").replace("}", "}}"))
        named = mo.group("named") or mo.group("braced")
        if named in TEMPLATE_WORDS:
            out.append("{" + named + "}")
        else:
            kept = template.delimiter if mo.group("escaped") is not None else mo.group()
            out.append(kept.replace("{", "{{").replace("}", "}}"))
        pos = mo.end()
    out.append(text[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class TaskTemplate:
    subject: Template
    body: Template
    due_in: timedelta
    priority: Literal["LOW", "MEDIUM", "HIGH"]
    crm: tuple[Crm, ...]
    deals: str
    subject_format: str  # format_of(subject)
    body_format: str


@dataclass(frozen=True, slots=True)
class AdvanceRule:
    id: str
    to: Stage
    rank: int
    from_: frozenset[Stage] | None
    check: Check
    reads: tuple[str, ...]

    def applies(self, current: Stage | None) -> bool:
        """Forward only; `from` unset means any ladder stage below `to` (or no stage yet)."""
        if self.from_ is None:
            return current is None or (current in LADDER and ladder_rank(current) < self.rank)
        if current is None:
            return any(s in LADDER for s in self.from_)
        return current in self.from_


@dataclass(frozen=True, slots=True)
class TimedRule:
    """A recycle/churn move (`to` set) or an SLA task (`to` None), timed from `since`."""

    id: str
    from_: frozenset[Stage]
    to: Stage | None
    check: Check | None
    reads: tuple[str, ...]
    since: str | None  # None = when the person entered the current stage
    after: timedelta
    satisfied_by: str | None
    task: TaskTemplate | None


_R = TypeVar("_R", AdvanceRule, TimedRule)


def _groups(rules: StageRules) -> tuple[tuple[Any, ...], ...]:
    return (rules.advance, rules.churn, rules.recycle, rules.tasks)


@dataclass(frozen=True, slots=True)
class StageRules:
    """The rules that can fire for a person at one current stage, precomputed per stage."""

    advance: tuple[AdvanceRule, ...]  # highest target first
    churn: tuple[TimedRule, ...]
    recycle: tuple[TimedRule, ...]
    tasks: tuple[TimedRule, ...]


@dataclass(frozen=True, slots=True)
class DealSpec:
    object_type: str
    stage_property: str
    close_date_property: str
    pipeline_property: str | None
    default_pipeline: str
    pipelines: MappingProxyType[str, MappingProxyType[str, Phase]]
    phases: dict[str, dict[str, Phase]]  # `pipelines` as plain dicts, for phase_of

    def phase_of(self, props: Any) -> Phase | None:
        """A deal's phase from its pipeline and stage value (unknown pipeline: the default's map)."""
        named = props.get(self.pipeline_property) if self.pipeline_property else None
        phases = self.phases
        stages = phases.get(named or self.default_pipeline) or phases.get(self.default_pipeline)
        return stages.get(props.get(self.stage_property) or "") if stages else None


@dataclass(frozen=True, slots=True)
class Mapping:
    """A validated, compiled mapping. `version` is the content hash every decision records."""

    name: str
    version: str
    model: MappingFile
    sources: MappingProxyType[tuple[Crm, str], tuple[Source, ...]]
    by_field: MappingProxyType[str, MappingProxyType[tuple[Crm, str], Source]]
    stage_sources: MappingProxyType[tuple[Crm, str], tuple[Source, ...]]
    precedence: MappingProxyType[str, tuple[Crm, ...]]
    default_precedence: tuple[Crm, ...]
    stage_mode: str
    deals: MappingProxyType[Crm, DealSpec]
    advance: tuple[AdvanceRule, ...]  # highest target first
    churn: tuple[TimedRule, ...]
    recycle: tuple[TimedRule, ...]
    tasks: tuple[TimedRule, ...]
    reads_deals: bool
    by_stage: MappingProxyType[Stage | None, StageRules]
    write: MappingProxyType[tuple[Crm, str], MappingProxyType[Stage, tuple[tuple[str, str], ...]]]
    owner_props: MappingProxyType[tuple[Crm, str], str]
    # Evaluation tables: the tables above, as plain dicts shaped for the engine's look-ups.
    # Never mutated after compile_mapping.
    readers: dict[str, Reader]
    stage_reads: dict[Crm, dict[str, tuple[StageRead, ...]]]
    rules_for: dict[Stage | None, StageRules]
    # `rules_for` with conditions compiled to note when a time comparison flips (the engine's
    # evaluate_with_next_check); a rule whose condition never reads `now` shares its closure.
    rules_for_tracked: dict[Stage | None, StageRules]

    def order_for(self, field: str) -> tuple[Crm, ...]:
        """CRM precedence for one canonical field."""
        return self.precedence.get(field, self.default_precedence)


def _sources(fields: dict[str, FieldDef]) -> dict[tuple[Crm, str], tuple[Source, ...]]:
    table: dict[tuple[Crm, str], list[Source]] = {}
    for name, fd in fields.items():
        for crm, per_object in fd.sources.items():
            read = fd.values.get(crm, {})
            if fd.type == "stage":  # stage values read straight to Stage members
                values: MappingProxyType[str, str] | None = MappingProxyType(
                    {k: Stage(v) for k, v in read.items()}
                )
            else:
                values = MappingProxyType(dict(read)) if fd.type == "enum" else None
            for object_type, prop in per_object.items():
                parse = PARSERS.get(fd.type or "string")
                table.setdefault((crm, object_type), []).append(
                    Source(name, prop, fd.type or "string", parse, values)
                )
    return {k: tuple(v) for k, v in table.items()}


def _writes(
    fields: dict[str, FieldDef],
) -> dict[tuple[Crm, str], MappingProxyType[Stage, tuple[tuple[str, str], ...]]]:
    table: dict[tuple[Crm, str], dict[Stage, list[tuple[str, str]]]] = {}
    for fd in fields.values():
        for crm, per_stage in fd.write.items():
            for object_type, prop in fd.sources.get(crm, {}).items():
                slot = table.setdefault((crm, object_type), {})
                for stage, value in per_stage.items():
                    slot.setdefault(stage, []).append((prop, value))
    return {k: MappingProxyType({s: tuple(v) for s, v in d.items()}) for k, d in table.items()}


def _task(spec: TaskSpec | None) -> TaskTemplate | None:
    if spec is None:
        return None
    subject, body = Template(spec.subject), Template(spec.body)
    return TaskTemplate(
        subject,
        body,
        duration(spec.due_in),
        spec.priority,
        tuple(spec.crm),
        spec.deals,
        format_of(subject),
        format_of(body),
    )


def _timer_fields(rule: Any) -> tuple[str, ...]:
    """Fields a timed rule reads besides its condition: its anchor and its 'done' marker."""
    since = None if rule.since == "stage_entered" else rule.since
    return tuple(f for f in (since, getattr(rule, "satisfied_by", None)) if f)


def _readers(sources: dict[tuple[Crm, str], tuple[Source, ...]], model: MappingFile) -> dict[str, Reader]:
    default = tuple(model.precedence.default)
    precedence = {k: tuple(v) for k, v in model.precedence.fields.items()}
    per_crm: dict[str, dict[Crm, dict[str, tuple[str, Convert | None]]]] = {n: {} for n in model.fields}
    for (crm, object_type), srcs in sources.items():
        for src in srcs:
            per_crm[src.field].setdefault(crm, {})[object_type] = (src.prop, _converter(src))
    return {
        name: tuple((crm, found[crm]) for crm in precedence.get(name, default) if crm in found)
        for name, found in per_crm.items()
    }


def _stage_values(src: Source, template: str | None) -> dict[str, StageValue]:
    out: dict[str, StageValue] = {}
    for raw, value in (src.values or {}).items():
        stage = Stage(value)
        prop = None if template is None else template.replace("{value}", raw)
        out[raw] = StageValue(
            stage, RANKS[stage], stage in LADDER, src.field, raw, f"value-map:{src.field}", prop
        )
    return out


def _stage_reads(
    sources: dict[tuple[Crm, str], tuple[Source, ...]],
    entered: dict[tuple[Crm, str, str], str],
) -> dict[Crm, dict[str, tuple[StageRead, ...]]]:
    table: dict[Crm, dict[str, tuple[StageRead, ...]]] = {}
    for (crm, object_type), srcs in sources.items():
        reads = tuple(
            (src.field, src.prop, _stage_values(src, entered.get((crm, object_type, src.field))))
            for src in srcs
            if src.kind == "stage" and src.values is not None
        )
        if reads:
            table.setdefault(crm, {})[object_type] = reads
    return table


def compile_mapping(model: MappingFile, version: str) -> Mapping:
    """Turn a semantically checked MappingFile into the evaluation tables."""
    # Each rule is compiled twice when its condition reads `now`: plain, and tracking when the
    # result would flip (rules_for_tracked); keyed by the plain rule's identity (ids may repeat).
    tracked: dict[int, Any] = {}

    def track(rule: _R, when: Any) -> _R:
        if reads_time(when):
            tracked[id(rule)] = replace(rule, check=compile_condition(when, track=True))
        return rule

    advance = sorted(
        (
            track(
                AdvanceRule(
                    r.id,
                    r.to,
                    ladder_rank(r.to),
                    frozenset(r.from_) if r.from_ else None,
                    compile_condition(r.when),
                    fields_read(r.when),
                ),
                r.when,
            )
            for r in model.advance
        ),
        key=lambda r: -r.rank,
    )

    def timed(rules: list[Any], *, is_task: bool = False) -> tuple[TimedRule, ...]:
        return tuple(
            track(
                TimedRule(
                    r.id,
                    frozenset(r.stages if is_task else r.from_),
                    None if is_task else r.to,
                    compile_condition(r.when) if r.when is not None else None,
                    tuple(dict.fromkeys((*fields_read(r.when), *_timer_fields(r)))),
                    None if r.since == "stage_entered" else r.since,
                    duration(r.after),
                    getattr(r, "satisfied_by", None),
                    _task(r.task),
                ),
                r.when,
            )
            for r in rules
        )

    churn, recycle, tasks = timed(model.churn), timed(model.recycle), timed(model.tasks, is_task=True)
    timed_rules = (*churn, *recycle, *tasks)
    every_read = {f for a in advance for f in a.reads} | {f for r in timed_rules for f in r.reads}
    owner = model.fields.get("owner_id")
    sources = _sources(model.fields)
    rules_for = {
        stage: StageRules(
            tuple(r for r in advance if r.applies(stage)),
            tuple(r for r in churn if stage in r.from_),
            tuple(r for r in recycle if stage in r.from_),
            tuple(r for r in tasks if stage in r.from_),
        )
        for stage in (None, *Stage)
    }
    # (crm, object type, stage field) -> the property holding when the record entered a value,
    # "{value}" standing for the value: compiled into each StageValue's `entered_prop`
    entered = {
        (crm, ot, name): template
        for name, fd in model.fields.items()
        for crm, per in fd.entered_at.items()
        for ot, template in per.items()
    }
    rules_for_tracked = {
        stage: StageRules(*(tuple(tracked.get(id(r), r) for r in group) for group in _groups(rules)))
        for stage, rules in rules_for.items()
    }
    return Mapping(
        name=model.name,
        version=version,
        model=model,
        sources=MappingProxyType(sources),
        by_field=MappingProxyType(
            {
                name: MappingProxyType(
                    {key: src for key, srcs in sources.items() for src in srcs if src.field == name}
                )
                for name in model.fields
            }
        ),
        stage_sources=MappingProxyType(
            {key: tuple(src for src in srcs if src.kind == "stage") for key, srcs in sources.items()}
        ),
        precedence=MappingProxyType({k: tuple(v) for k, v in model.precedence.fields.items()}),
        default_precedence=tuple(model.precedence.default),
        stage_mode=model.precedence.stage_evidence,
        deals=MappingProxyType(
            {
                crm: DealSpec(
                    d.object_type,
                    d.stage_property,
                    d.close_date_property,
                    d.pipeline_property,
                    d.default_pipeline,
                    MappingProxyType({p: MappingProxyType(dict(s)) for p, s in d.pipelines.items()}),
                    {p: dict(s) for p, s in d.pipelines.items()},
                )
                for crm, d in model.deals.items()
            }
        ),
        advance=tuple(advance),
        churn=churn,
        recycle=recycle,
        tasks=tasks,
        reads_deals=bool(every_read & DEAL_FIELDS),
        by_stage=MappingProxyType(rules_for),
        write=MappingProxyType(_writes(model.fields)),
        owner_props=MappingProxyType(
            {
                (crm, ot): prop
                for crm, per in (owner.sources.items() if owner else ())
                for ot, prop in per.items()
            }
        ),
        readers=_readers(sources, model),
        stage_reads=_stage_reads(sources, entered),
        rules_for=rules_for,
        rules_for_tracked=rules_for_tracked,
    )
