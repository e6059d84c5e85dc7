"""The seed generator: deterministic, funnel-shaped, overlapping CRMs, dirty on purpose, fast."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict

import pytest

from connector.sandbox.hubspot import make_app
from connector.sandbox.seed import DEAL_STAGES, UNKNOWN_LIFECYCLE, generate
from connector.sandbox.world import World

SF_BY_HS = {hs: set(sf) for hs, sf in DEAL_STAGES} | {
    "closedwon": {"Closed Won"},
    "closedlost": {"Closed Lost"},
}


@pytest.fixture(scope="module")
def world() -> World:
    return generate(5000, seed=11)


def test_same_seed_same_world_other_seed_other_world() -> None:
    a, b, c = generate(400, seed=3), generate(400, seed=3), generate(400, seed=4)
    assert [asdict(p) for p in a.people] == [asdict(p) for p in b.people]
    assert [asdict(d) for d in a.deals] == [asdict(d) for d in b.deals]
    assert [asdict(p) for p in a.people] != [asdict(p) for p in c.people]


def test_funnel_shape(world: World) -> None:
    stages = Counter(p.lifecyclestage for p in world.people)
    share = {k: v / len(world.people) for k, v in stages.items()}
    assert stages.most_common(1)[0][0] == "lead"
    assert 0.10 <= share["marketingqualifiedlead"] <= 0.25
    assert share["salesqualifiedlead"] < share["marketingqualifiedlead"]
    assert share["customer"] < share["salesqualifiedlead"]


@pytest.mark.parametrize("overlap", [0.0, 0.4, 0.9])
def test_overlap_is_the_share_in_both_crms(overlap: float) -> None:
    people = generate(3000, seed=5, overlap=overlap).people
    both = sum(p.in_hubspot and p.in_salesforce for p in people) / len(people)
    assert abs(both - overlap) < 0.04
    assert all(p.in_hubspot or p.in_salesforce for p in people)


def test_dirty_data_kinds_present_at_roughly_the_rate(world: World) -> None:
    people = world.people
    emails = Counter(p.email.lower() for p in people if p.email)
    kinds = {
        "missing": sum(p.email is None for p in people),
        "duplicate": sum(n - 1 for n in emails.values() if n > 1),
        "mixed_case": sum(p.email is not None and p.email != p.email.lower() for p in people),
        "unknown_stage": sum(p.lifecyclestage == UNKNOWN_LIFECYCLE for p in people),
        "non_numeric_score": sum(p.lead_score == "n/a" for p in people),
    }
    assert all(n > 0 for n in kinds.values()), kinds
    assert 0.02 < sum(kinds.values()) / len(people) < 0.06


def test_deals_carry_matching_stage_names_and_span_18_months(world: World) -> None:
    assert all(d.sf_stage in SF_BY_HS[d.hs_dealstage] for d in world.deals)
    ages = [(world.now - d.created_at).days for d in world.deals]
    assert max(ages) > 400
    assert {d.hs_dealstage for d in world.deals} >= {"closedwon", "closedlost", "appointmentscheduled"}


def test_a_bench_sized_world_keeps_people_distinct() -> None:
    """The benchmarks' 50,000 people, one key each (how fast: bench/, not here)."""
    big = generate(50_000)
    assert len(big.people) == 50_000
    assert len({p.key for p in big.people}) == 50_000


def test_hubspot_sandbox_loads_its_share(world: World) -> None:
    store = make_app(world).store
    assert len(store.records["contacts"]) == sum(p.in_hubspot for p in world.people)
    assert len(store.records["deals"]) == sum(d.in_hubspot for d in world.deals)
    assert {r.props["pipeline"] for r in store.records["deals"].values()} == {"default"}
