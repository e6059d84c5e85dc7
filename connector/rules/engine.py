"""The pure rules engine: evaluate(person, history, mapping, now) -> decisions with reasons.

Order of judgement, highest priority first: churn rules (the only way a customer leaves the
ladder), forward moves (rules and CRM stage values, highest stage wins), recycle rules (the only
other backward moves), then SLA tasks. At most one transition per evaluation; a stage already
reflected by the canonical stage decides nothing (echo suppression). No I/O, no clock: `now` is
an argument, so the same input always gives the same output.

`evaluate_with_next_check` gives the same decisions plus the earliest instant after `now` at
which a time comparison the evaluation made (a timed rule's `now - anchor >= after`, a
condition's older_than/newer_than) changes value. Until then the decisions stay the same but for
the fields that embed `now` (a task's due time, provenance's decided_at): comparisons not made
were short-circuited, so they did not influence the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, Self

from connector.model import (
    LADDER,
    Crm,
    Decision,
    InputValue,
    Person,
    Provenance,
    Skipped,
    SourceRecord,
    Stage,
    StageChange,
    StageTransition,
    TargetRef,
    TaskDecision,
)
from connector.rules.compiled import RANKS, Mapping, TimedRule, rank
from connector.rules.conditions import flips_at, note_flip
from connector.rules.decisions import new_provenance, new_task, new_transition
from connector.rules.facts import Evidence, Facts, deals_for
from connector.rules.fields import PLAIN_TYPES, BadValueError, input_value, iso_text, parse_datetime

_ON_LADDER = frozenset(LADDER)
_new = dict.__new__


def entered_at(history: Iterable[StageChange], stage: Stage | None) -> datetime | None:
    """When the person last entered `stage` (the latest matching history entry)."""
    if type(history) is tuple and len(history) == 1:
        (only,) = history
        return only.at if only.stage == stage else None
    latest: datetime | None = None
    for change in history:
        if change.stage == stage and (latest is None or change.at > latest):
            latest = change.at
    return latest


def _at_or_after(value: datetime | None, anchor: datetime) -> bool:
    return value is not None and value >= anchor


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def task_key(decision: TaskDecision) -> str:
    """Idempotency key of a task: one per person, rule and occurrence (the timer's anchor)."""
    return _digest("task", decision.why.rule_id, decision.person_id, decision.why.inputs.get("anchor_at"))


def transition_key(decision: StageTransition) -> str:
    """Idempotency key of a transition: person, move, rule and when the old stage was entered."""
    return _digest(
        "transition",
        decision.person_id,
        decision.from_stage,
        decision.to_stage,
        decision.why.rule_id,
        decision.why.inputs.get("from_entered_at"),
    )


_STAGE_TEXT: dict[Stage | None, str | None] = {None: None, **{s: s.value for s in Stage}}
_CRM_TEXT: dict[Crm, str] = {c: c.value for c in Crm}


class _Run(Facts):
    """One evaluation's working state (kept off the public surface).

    It is the person's Facts itself, plus where the person stands and what has been decided:
    one object per evaluation, not two. Made with `_new(cls).start(...)`: `cls(...)` would call
    `__init__` from type.__call__'s C code, a slower call than one from Python.
    """

    __slots__ = ("now", "out", "rules")

    def start(
        self, person: Person, history: tuple[StageChange, ...], mapping: Mapping, now: datetime
    ) -> Self:
        current = person.stage
        if not history:
            entered = None
        elif len(history) == 1:  # the usual case, without entered_at's call
            (only,) = history
            entered = only.at if only.stage == current else None
        else:
            entered = entered_at(history, current)
        Facts.__init__(self, person, mapping, entered)
        self.now = now
        self.rules = mapping.rules_for[current]
        self.out: tuple[Decision, ...] = ()  # grown by concatenation: mostly 0 or 1 decision
        return self

    def why(
        self,
        rule_id: str,
        reads: Iterable[str],
        extra: tuple[tuple[str, InputValue], ...] = (),
        entered_text: str | None = None,
    ) -> Provenance:
        """The provenance of a decision about to be emitted (built only then); `extra` is recorded
        as is; `entered_text`: the current stage's entry time as text, when the caller has it."""
        facts = self
        inputs: dict[str, InputValue] = {}
        for f in reads:
            value = facts[f]
            inputs[f] = value if type(value) in PLAIN_TYPES else input_value(value)
        inputs["stage"] = _STAGE_TEXT[self.current]
        if entered_text is None and self.entered is not None:
            entered_text = iso_text(self.entered)
        inputs["from_entered_at"] = entered_text
        for key, recorded in extra:
            inputs[key] = recorded
        return new_provenance(rule_id, self.mapping.version, inputs, self.now)

    def judged(self, rule_id: str, reads: Iterable[str]) -> bool:
        """After a rule ran: False, plus a Skipped decision, if it read a value the CRM sent malformed."""
        invalid = self.invalid
        for f in reads:
            bad = invalid.get(f)
            if bad is not None:
                why = self.why(rule_id, (), (("raw", input_value(bad.raw)),))
                reason = f"rule {rule_id} not judged: {f} {bad.reason}"
                self.out += (Skipped(self.person.person_id, reason, bad.record, f, why),)
                return False
        return True

    # -- forward -------------------------------------------------------------------------------
    def best_evidence(self) -> Evidence | None:
        evidence = self.evidence
        if not evidence:
            return None
        current = self.current
        if len(evidence) == 1:  # the usual case: no list to filter, nothing to rank
            only = evidence[0]
            if not only[0].on_ladder:
                return None
            if current is None or current in _ON_LADDER:
                return only
            entered = self.entered
            return only if entered is not None and only[1].modified_at > entered else None
        if current is None or current in _ON_LADDER:
            fresh = [e for e in evidence if e[0].on_ladder]
        else:  # a side state: only CRM values changed since the person entered it count
            entered = self.entered
            fresh = [
                e for e in evidence if e[0].on_ladder and entered is not None and e[1].modified_at > entered
            ]
        if not fresh:
            return None
        mapping = self.mapping
        if mapping.stage_mode == "precedence":
            for crm in mapping.order_for(fresh[0][0].field):
                mine = [e for e in fresh if e[1].crm == crm]
                if mine:
                    fresh = mine
                    break
        best = fresh[0]
        if len(fresh) > 1:  # highest stage; a tie goes to the first CRM of the default precedence
            first = mapping.default_precedence[0]
            top = (best[0].rank, best[1].crm == first)
            for e in fresh[1:]:
                key = (e[0].rank, e[1].crm == first)
                if key > top:
                    best, top = e, key
        return best

    def advance(self) -> bool:
        current_rank = RANKS[self.current]
        best = self.best_evidence()
        best_rank = current_rank if best is None else best[0].rank
        floor = current_rank if best_rank < current_rank else best_rank
        facts, now = self, self.now
        for rule in self.rules.advance:
            if rule.rank <= floor:
                break  # sorted by target: nothing further can win
            fired = rule.check(facts, now)
            if facts.invalid and not self.judged(rule.id, rule.reads):
                continue
            if fired:
                why = self.why(rule.id, rule.reads)
                self.out += (new_transition(self.person.person_id, self.current, rule.to, why),)
                return True
        if best is not None and best_rank > current_rank:
            # why(rule, (), extra) spelled out: one dict display, in the same key order
            value, source = best
            entered = self.entered
            inputs: dict[str, InputValue] = {
                "stage": _STAGE_TEXT[self.current],
                "from_entered_at": None if entered is None else iso_text(entered),
                "crm": _CRM_TEXT[source.crm],
                "record": input_value(source.record_id),
                "value": value.raw,
            }
            if value.entered_prop is not None:
                inputs.update(self.crm_entered(source, value.entered_prop))
            why = new_provenance(value.rule_id, self.mapping.version, inputs, self.now)
            self.out += (new_transition(self.person.person_id, self.current, value.stage, why),)
            return True
        return False

    def crm_entered(self, source: SourceRecord, prop: str) -> tuple[tuple[str, InputValue], ...]:
        """The CRM's own time of entering the evidence's value (in `source`'s property `prop`), as
        provenance inputs (none if unknown).

        Without it a person's first stage would date from the connector's first sight, and every
        timer (30 days without SAL, 24 h SLA) would start at install. A time before the current
        stage's entry is ignored (a CRM that keeps the first entry on re-entry: HubSpot's
        behaviour is undocumented); one after `now` (clock skew) reads as `now`.
        """
        raw = source.properties.get(prop)
        if not raw:
            return ()
        try:
            at = min(parse_datetime(raw), self.now)
        except BadValueError:
            return (("entered_at_invalid", input_value(raw)),)
        if self.entered is not None and at < self.entered:
            return ()
        return (("entered_at", iso_text(at)), ("entered_at_from", prop))

    # -- timed rules (recycle, churn, SLA) -------------------------------------------------------
    def due(self, rule: TimedRule) -> tuple[bool, datetime | None]:
        """(fires, anchor): the timer has run out, the work is not done yet, and the condition holds.

        A rule without a delay needs no anchor, so it also fires for a person whose stage entry
        time is unknown; a delayed rule never fires without one.
        """
        values, now = self, self.now
        anchor = self.entered if rule.since is None else values[rule.since]
        if anchor is None:
            timer_ok = not rule.after and rule.since is None
        else:
            timer_ok = now - anchor >= rule.after and (
                rule.satisfied_by is None or not _at_or_after(values[rule.satisfied_by], anchor)
            )
        fired = timer_ok and (rule.check is None or rule.check(values, now))
        if values.invalid and not self.judged(rule.id, rule.reads):
            return False, None
        return fired, anchor

    def timed(self, rules: tuple[TimedRule, ...]) -> bool:
        for rule in rules:
            fired, anchor = self.due(rule)
            if not fired:
                continue
            # the anchor is most often the stage entry: its text once
            entered = self.entered
            text = None if entered is None else iso_text(entered)
            anchor_text = text if anchor is entered else input_value(anchor)
            why = self.why(rule.id, rule.reads, (("anchor_at", anchor_text),), text)
            if rule.to is not None:
                self.out += (new_transition(self.person.person_id, self.current, rule.to, why),)
            self.task(rule, why)
            return True
        return False

    def task(self, rule: TimedRule, why: Provenance) -> None:
        spec = rule.task
        if spec is None:
            return
        person, records = self.person, self.records
        crm = None  # the first of the task's CRMs the person has a record in
        for wanted in spec.crm:
            for r in records:
                if r.crm == wanted:
                    crm = wanted
                    break
            if crm is not None:
                break
        if crm is None:
            reason = f"rule {rule.id}: no record in {[c.value for c in spec.crm]}"
            self.out += (Skipped(person.person_id, reason, None, None, why),)
            return
        mine = [r for r in records if r.crm == crm]
        owner_props = self.mapping.owner_props
        owner = None
        for r in mine:
            if found := r.properties.get(owner_props.get((crm, r.object_type), "")):
                owner = found
                break
        targets = tuple([TargetRef(r.crm, r.object_type, r.record_id) for r in mine])
        words = {"email": person.email or "", "stage": _STAGE_TEXT[self.current] or "", "rule": rule.id}
        decision = new_task(
            person.person_id,
            crm,
            spec.subject_format.format_map(words),
            spec.body_format.format_map(words),
            self.now + spec.due_in,
            spec.priority,
            owner,
            targets + deals_for(person, self.mapping, crm, spec.deals),
            why,
        )
        if not person.open_tasks or task_key(decision) not in person.open_tasks:
            self.out += (decision,)


class _Tracked(_Run):
    """A `_Run` that also learns when its result could change with time alone (`horizon`)."""

    __slots__ = ("horizon",)

    def start(
        self, person: Person, history: tuple[StageChange, ...], mapping: Mapping, now: datetime
    ) -> Self:
        _Run.start(self, person, history, mapping, now)
        self.rules = mapping.rules_for_tracked[self.current]  # conditions that note their flips
        self.horizon: datetime | None = None
        return self

    def due(self, rule: TimedRule) -> tuple[bool, datetime | None]:
        """`_Run.due`, noting when `now - anchor >= after` turns true if it is not yet: it is
        evaluated whenever there is an anchor, and once true it stays true."""
        anchor = self.entered if rule.since is None else self[rule.since]
        if anchor is not None:
            at = flips_at(anchor, rule.after)
            if at is not None and at > self.now:
                note_flip(self, at)
        return _Run.due(self, rule)


def _judge(run: _Run) -> tuple[Decision, ...]:
    rules = run.rules
    if (  # the first group that decides ends the evaluation; empty groups cost no call
        not (rules.churn and run.timed(rules.churn))
        and not run.advance()
        and not (rules.recycle and run.timed(rules.recycle))
        and rules.tasks
    ):
        run.timed(rules.tasks)
    for bad in run.unknown:
        why = run.why(f"value-map:{bad.field}", (), (("raw", input_value(bad.raw)),))
        run.out += (Skipped(run.person.person_id, bad.reason, bad.record, bad.field, why),)
    return run.out


def evaluate(
    person: Person, history: Iterable[StageChange], mapping: Mapping, now: datetime
) -> tuple[Decision, ...]:
    """All decisions for one person at `now`: at most one transition, tasks, and skipped reads."""
    changes = history if type(history) is tuple else tuple(history)
    return _judge(_new(_Run).start(person, changes, mapping, now))


class Evaluation(NamedTuple):
    decisions: tuple[Decision, ...]
    next_check: datetime | None  # earliest instant after `now` the decisions could differ; None: never


def evaluate_with_next_check(
    person: Person, history: Iterable[StageChange], mapping: Mapping, now: datetime
) -> Evaluation:
    """`evaluate`, plus when to look again: at any instant in [now, next_check) the decisions are
    the same (kinds, rules, stages, targets; fields that embed `now` move with it)."""
    run = _new(_Tracked).start(person, tuple(history), mapping, now)
    decisions = _judge(run)
    return Evaluation(decisions, run.horizon)


def canonical_stage_of(record: SourceRecord, mapping: Mapping) -> Stage | None:
    """The canonical stage one record's own stage fields show (highest if several), or None."""
    best: Stage | None = None
    for src in mapping.sources.get((record.crm, record.object_type), ()):
        if src.kind != "stage" or src.values is None:
            continue
        value = src.values.get(record.properties.get(src.prop) or "")
        if value is not None and (best is None or rank(Stage(value)) > rank(best)):
            best = Stage(value)
    return best
