"""Pydantic models of a mapping file: the typed, closed vocabulary RevOps writes rules in.

Every model forbids unknown keys, so a typo is an error with a place, never a silently ignored
rule. Conditions are a closed union of leaf operators and all/any/not/at_least combinators;
nothing here is ever evaluated as Python. `python -m connector.rules.schema` prints the JSON
Schema committed as mappings/schema.json.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from connector.model import Crm, Stage

DURATION_PATTERN = r"^[0-9]{1,6}(m|h|d|w)$"
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, description="e.g. 5m, 24h, 30d, 2w")]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]
Scalar = str | int | float | bool
FieldType = Literal["string", "number", "bool", "datetime", "enum", "stage"]
Phase = Literal[1, 2, 3, 4, 5, "won", "lost"]
Priority = Literal["LOW", "MEDIUM", "HIGH"]

# Leaf operators and the value each takes; the engine compiles exactly these (conditions.py).
OPERATORS: dict[str, str] = {
    "eq": "scalar",
    "ne": "scalar",
    "in": "list",
    "not_in": "list",
    "gt": "number",
    "gte": "number",
    "lt": "number",
    "lte": "number",
    "between": "pair",
    "exists": "true",
    "missing": "true",
    "contains": "scalar",
    "matches": "regex",
    "older_than": "duration",
    "newer_than": "duration",
}
MAX_REGEX = 200


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Leaf(_Model):
    """`{field: lead_score, gte: 50}`: exactly one operator applied to one canonical field."""

    field: str
    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    between: tuple[float, float] | None = None
    exists: Literal[True] | None = None
    missing: Literal[True] | None = None
    contains: Scalar | None = None
    matches: Annotated[str, Field(max_length=MAX_REGEX)] | None = None
    older_than: Duration | None = None
    newer_than: Duration | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> Leaf:
        used = self.operators()
        if len(used) != 1:
            raise ValueError(f"a condition needs exactly one operator, got {len(used)}: {sorted(used)}")
        return self

    def operators(self) -> dict[str, Any]:
        """The operator actually set, keyed by its YAML name."""
        dumped = self.model_dump(by_alias=True, exclude_none=True)
        dumped.pop("field")
        return dumped


class All(_Model):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Model):
    any: list[Condition] = Field(min_length=1)


class Not(_Model):
    not_: Condition = Field(alias="not")


class AtLeast(_Model):
    """`{at_least: 3, of: [...]}`: BANT-style 'n of these hold'."""

    at_least: int = Field(ge=1)
    of: list[Condition] = Field(min_length=1)


def _condition_kind(value: Any) -> str:
    """Pick the union member by its key (validation) or its class (serialisation)."""
    for cls, tag in ((All, "all"), (AnyOf, "any"), (Not, "not"), (AtLeast, "at_least")):
        if isinstance(value, cls):
            return tag
    if isinstance(value, dict):
        for key, tag in (("all", "all"), ("any", "any"), ("not", "not"), ("at_least", "at_least")):
            if key in value:
                return tag
    return "leaf"


Condition = Annotated[
    Annotated[Leaf, Tag("leaf")]
    | Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[AtLeast, Tag("at_least")],
    Discriminator(_condition_kind),
]
CONDITION_TAGS = frozenset({"leaf", "all", "any", "not", "at_least"})


class FieldDef(_Model):
    """A canonical field: where each CRM keeps it and how its values read as canonical ones."""

    type: FieldType | None = Field(default=None, description="required once files are merged")
    description: str = ""
    sources: dict[Crm, dict[str, str]] = Field(
        default_factory=dict, description="crm -> object type -> property name"
    )
    values: dict[Crm, dict[str, str]] = Field(
        default_factory=dict, description="enum/stage: crm value -> canonical value (read direction)"
    )
    write: dict[Crm, dict[Stage, str]] = Field(
        default_factory=dict, description="canonical stage -> crm value (write-back direction)"
    )
    entered_at: dict[Crm, dict[str, str]] = Field(
        default_factory=dict,
        description="stage fields: crm -> object type -> property holding when the record entered its"
        " current value, {value} standing for that value (HubSpot: hs_v2_date_entered_{value})",
    )


class Precedence(_Model):
    """Which CRM wins when a person lives in several and their values differ."""

    default: list[Crm] = Field(default_factory=lambda: [Crm.SALESFORCE, Crm.HUBSPOT], min_length=1)
    fields: dict[str, list[Crm]] = Field(default_factory=dict)
    stage_evidence: Literal["highest", "precedence"] = "highest"


class DealMap(_Model):
    """How one CRM's deals read as Field Sales phases 1-5 and won/lost."""

    object_type: str
    stage_property: str
    close_date_property: str
    pipeline_property: str | None = None
    default_pipeline: str = "default"
    pipelines: dict[str, dict[str, Phase]] = Field(min_length=1)


class TaskSpec(_Model):
    """A follow-up task: subject/body are templates over $email, $stage, $rule (no code)."""

    subject: str = Field(min_length=1, max_length=255)
    body: str = ""
    due_in: Duration = "1d"
    priority: Priority = "MEDIUM"
    crm: list[Crm] = Field(min_length=1, description="first CRM the person lives in gets the task")
    deals: Literal["none", "open", "lost", "won", "all"] = "none"


class AdvanceRule(_Model):
    """A forward move up the ladder when `when` holds."""

    id: RuleId
    description: str = ""
    to: Stage
    from_: list[Stage] | None = Field(
        default=None, alias="from", description="default: unset stage or any ladder stage below `to`"
    )
    when: Condition
    replace: bool = False


class BackRule(_Model):
    """A recycle/churn move: from these stages to `to`, once `after` has passed since `since`."""

    id: RuleId
    description: str = ""
    from_: list[Stage] = Field(alias="from", min_length=1)
    to: Stage
    when: Condition | None = None
    since: str = Field(default="stage_entered", description="stage_entered or a datetime field")
    after: Duration = "0m"
    task: TaskSpec | None = None
    replace: bool = False


class TaskRule(_Model):
    """An SLA timer: a task once `after` has passed since `since` unless `satisfied_by` is newer."""

    id: RuleId
    description: str = ""
    stages: list[Stage] = Field(min_length=1)
    since: str = "stage_entered"
    after: Duration
    satisfied_by: str | None = None
    when: Condition | None = None
    task: TaskSpec
    replace: bool = False


class MappingFile(_Model):
    """One mapping file (several merge into one mapping; later files override earlier keys)."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: str = "mapping"
    description: str = ""
    ladder: list[Stage] = Field(default_factory=list)
    side_states: list[Stage] = Field(default_factory=list)
    fields: dict[str, FieldDef] = Field(default_factory=dict)
    precedence: Precedence = Field(default_factory=Precedence)
    deals: dict[Crm, DealMap] = Field(default_factory=dict)
    advance: list[AdvanceRule] = Field(default_factory=list)
    recycle: list[BackRule] = Field(default_factory=list)
    churn: list[BackRule] = Field(default_factory=list)
    tasks: list[TaskRule] = Field(default_factory=list)


RULE_SECTIONS = ("advance", "recycle", "churn", "tasks")


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to validate and complete mapping files."""
    schema = MappingFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "revops-sync mapping file"
    return schema


def render_json_schema() -> str:
    """Stable text of the schema, as committed in mappings/schema.json."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_json_schema())
