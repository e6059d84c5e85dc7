"""Value maps in the write direction: what to put in each CRM for a canonical stage or phase."""

from __future__ import annotations

from connector.model import Crm, Stage
from connector.rules.compiled import Mapping
from connector.rules.schema import Phase


def _writes(mapping: Mapping, crm: Crm, object_type: str, stage: Stage) -> tuple[tuple[str, str], ...]:
    table = mapping.write.get((crm, object_type))
    return table.get(stage, ()) if table is not None else ()


def stage_writes(mapping: Mapping, crm: Crm, object_type: str, stage: Stage) -> dict[str, str]:
    """Every property to set on one CRM object so it shows `stage` (e.g. lifecyclestage + hs_lead_status)."""
    return dict(_writes(mapping, crm, object_type, stage))


def to_crm_value(mapping: Mapping, crm: Crm, object_type: str, stage: Stage) -> str | None:
    """The primary stage property's value for `stage` (the first stage-typed field), or None if unmapped."""
    writes = _writes(mapping, crm, object_type, stage)
    stage_props = {s.prop for s in mapping.sources.get((crm, object_type), ()) if s.kind == "stage"}
    for prop, value in writes:
        if prop in stage_props:
            return value
    return writes[0][1] if writes else None


def deal_stage_value(mapping: Mapping, crm: Crm, phase: Phase, pipeline: str | None = None) -> str | None:
    """The first deal stage value of a pipeline that reads as `phase` (1-5, 'won', 'lost')."""
    spec = mapping.deals.get(crm)
    if spec is None:
        return None
    stages = spec.pipelines.get(pipeline or spec.default_pipeline)
    return next((value for value, p in stages.items() if p == phase), None) if stages else None
