"""Deterministic B2B world generator shared by the HubSpot and Salesforce sandboxes.

One seed gives one world, byte for byte: tests and benchmarks can rely on record counts and
distributions. The funnel is shaped like a real one (many leads, ~18% MQL, fewer SQL, a few
customers) and dirty on purpose at rate `dirty`, because the connector must survive real data.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from connector.sandbox.world import Company, Owner, SeedDeal, SeedPerson, SeedTask, World

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=UTC)
HISTORY_DAYS = 540  # deals and people spread over 18 months

# HubSpot lifecycle stage -> weight; shaped like a funnel.
LIFECYCLE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("subscriber", 0.10),
    ("lead", 0.46),
    ("marketingqualifiedlead", 0.18),
    ("salesqualifiedlead", 0.10),
    ("opportunity", 0.08),
    ("customer", 0.06),
    ("evangelist", 0.01),
    ("other", 0.01),
)
LEAD_STATUS_BY_STAGE: dict[str, tuple[str, ...]] = {
    "subscriber": ("NEW",),
    "lead": ("NEW", "OPEN", "ATTEMPTED_TO_CONTACT", "UNQUALIFIED", "BAD_TIMING"),
    "marketingqualifiedlead": ("OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED"),
    "salesqualifiedlead": ("IN_PROGRESS", "CONNECTED", "OPEN_DEAL"),
    "opportunity": ("OPEN_DEAL",),
    "customer": ("OPEN_DEAL", "CONNECTED"),
    "evangelist": ("CONNECTED",),
    "other": ("UNQUALIFIED",),
}
SF_LEAD_STATUS_BY_STAGE: dict[str, str] = {
    "subscriber": "Open - Not Contacted",
    "lead": "Open - Not Contacted",
    "marketingqualifiedlead": "Working - Contacted",
    "salesqualifiedlead": "Working - Contacted",
    "other": "Closed - Not Converted",
}
CONVERTED_STAGES = frozenset({"opportunity", "customer", "evangelist"})
SCORE_RANGE_BY_STAGE: dict[str, tuple[int, int]] = {
    "subscriber": (0, 30),
    "lead": (0, 60),
    "marketingqualifiedlead": (55, 90),
    "salesqualifiedlead": (65, 95),
    "opportunity": (70, 100),
    "customer": (60, 100),
    "evangelist": (60, 100),
    "other": (0, 40),
}
# (HubSpot dealstage, Salesforce StageName choices, weight among open deals)
DEAL_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("appointmentscheduled", ("Prospecting", "Qualification")),
    ("qualifiedtobuy", ("Needs Analysis", "Value Proposition")),
    ("presentationscheduled", ("Id. Decision Makers", "Perception Analysis")),
    ("decisionmakerboughtin", ("Proposal/Price Quote",)),
    ("contractsent", ("Negotiation/Review",)),
)
UNKNOWN_LIFECYCLE = "legacy_prospect"  # a value no mapping knows, on purpose

FIRST = ("Alex", "Maria", "James", "Priya", "Chen", "Olivia", "Noah", "Fatima", "Lucas", "Emma", "Liam",
         "Sofia", "Daniel", "Aisha", "Mateo", "Hannah", "Ethan", "Chloe", "Omar", "Grace")  # fmt: skip
LAST = ("Smith", "Garcia", "Miller", "Patel", "Wang", "Brown", "Jones", "Kim", "Nguyen", "Muller",
        "Rossi", "Silva", "Cohen", "Khan", "Novak", "Larsen", "Dubois", "Ivanov", "Lopez",
        "Clark")  # fmt: skip
JP_FIRST = ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Takumi", "Sakura", "Kenji", "Yuki")
JP_LAST = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi")
TITLES = (
    ("VP of Sales", 0.05), ("VP Engineering", 0.04), ("Director of Marketing", 0.07),
    ("Director of IT", 0.06), ("Head of RevOps", 0.04), ("Sales Manager", 0.12),
    ("Marketing Manager", 0.12), ("Product Manager", 0.08), ("Software Engineer", 0.18),
    ("Data Analyst", 0.10), ("CTO", 0.03), ("CFO", 0.02), ("Account Executive", 0.09),
)  # fmt: skip
JP_TITLES = ("営業部長", "マーケティング課長", "情報システム部 部長", "エンジニア", "代表取締役")
CO_PREFIX = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent",
             "Tyrell", "Cyberdyne", "Aperture", "Monarch", "Nakatomi", "Oscorp", "Wonka")  # fmt: skip
CO_SUFFIX = ("Systems", "Labs", "Analytics", "Logistics", "Health", "Cloud", "Robotics", "Foods")
JP_CO = ("Sakura", "Fuji", "Yamato", "Kintsugi", "Hikari", "Mirai", "Tsubasa")
INDUSTRIES = ("COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL",
              "MANUFACTURING", "LOGISTICS_AND_SUPPLY_CHAIN", "MARKETING_AND_ADVERTISING")  # fmt: skip
REGIONS = (("NA", 0.4), ("EMEA", 0.3), ("APAC", 0.15), ("JP", 0.15))
TEAMS = (("IS", 4), ("FS", 3), ("CS", 3), ("MKT", 2))
TASK_SUBJECTS = ("Follow up call", "Send proposal", "Discovery meeting", "Demo prep", "Renewal check-in")


def _weighted(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def _companies(rng: random.Random, count: int) -> list[Company]:
    out = []
    for i in range(count):
        region = _weighted(rng, REGIONS)
        if region == "JP":
            name = f"{rng.choice(JP_CO)} {rng.choice(CO_SUFFIX)} K.K."
            tld = "co.jp"
        else:
            name = f"{rng.choice(CO_PREFIX)} {rng.choice(CO_SUFFIX)}"
            tld = rng.choice(("com", "io", "co"))
        slug = name.lower().replace(" k.k.", "").replace(" ", "")
        employees = int(rng.lognormvariate(5, 1.5)) + 5
        out.append(
            Company(f"co-{i:05d}", name, f"{slug}{i}.{tld}", rng.choice(INDUSTRIES), employees, region)
        )
    return out


def _owners(rng: random.Random) -> list[Owner]:
    out: list[Owner] = []
    for team, count in TEAMS:
        for _ in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            key = f"own-{len(out):02d}"
            out.append(Owner(key, f"{first} {last}", f"{first}.{last}@seller.example".lower(), team))
    return out


def _dirty_email(rng: random.Random, email: str, previous: str | None) -> tuple[str | None, str | None]:
    """Return (email, lifecycle override) with one kind of dirt applied; None override = keep."""
    kind = rng.randrange(5)
    if kind == 0:
        return None, None
    if kind == 1 and previous:
        return previous, None
    if kind == 2:
        return email.title(), None
    if kind == 3:
        return email, UNKNOWN_LIFECYCLE
    return email, "n/a"  # marker: the score goes non-numeric


def generate(
    people: int,
    seed: int = 7,
    *,
    overlap: float = 0.4,
    dirty: float = 0.04,
    now: datetime | None = None,
) -> World:
    """Build a reproducible world of `people` persons spread across HubSpot and Salesforce."""
    rng = random.Random(seed)
    now = now or DEFAULT_NOW
    world = World(seed=seed, now=now)
    world.companies = _companies(rng, max(5, people // 8))
    world.owners = _owners(rng)
    sales = [o for o in world.owners if o.team in {"IS", "FS"}]
    previous_email: str | None = None
    for i in range(people):
        company = rng.choice(world.companies)
        jp = company.region == "JP"
        first = rng.choice(JP_FIRST if jp else FIRST)
        last = rng.choice(JP_LAST if jp else LAST)
        title = rng.choice(JP_TITLES) if jp and rng.random() < 0.5 else _weighted(rng, TITLES)
        stage = _weighted(rng, LIFECYCLE_WEIGHTS)
        low, high = SCORE_RANGE_BY_STAGE[stage]
        score: str | None = str(rng.randint(low, high))
        email: str | None = f"{first}.{last}.{i}@{company.domain}".lower()
        hs_stage: str | None = stage
        if rng.random() < dirty:
            email, marker = _dirty_email(rng, email or "", previous_email)
            if marker == "n/a":
                score = "n/a"
            elif marker is not None:
                hs_stage = marker
        if email:
            previous_email = email
        roll = rng.random()
        both = roll < overlap
        in_hs = both or roll < overlap + (1 - overlap) / 2
        in_sf = both or not in_hs
        created = now - timedelta(days=rng.uniform(0, HISTORY_DAYS))
        modified = created + (now - created) * rng.random()
        contacted = created + (now - created) * rng.random() if rng.random() < 0.6 else None
        converted = stage in CONVERTED_STAGES
        bant = stage not in {"subscriber", "lead", "other"}
        world.people.append(
            SeedPerson(
                key=f"p-{i:06d}",
                first_name=first,
                last_name=last,
                email=email,
                title=title,
                company_key=company.key,
                created_at=created,
                lead_score=score,
                in_hubspot=in_hs,
                lifecyclestage=hs_stage,
                hs_lead_status=rng.choice(LEAD_STATUS_BY_STAGE[stage]),
                in_salesforce=in_sf,
                sf_object="Contact" if converted else "Lead",
                sf_lead_status="Closed - Converted" if converted else SF_LEAD_STATUS_BY_STAGE[stage],
                budget=bant and rng.random() < 0.8,
                authority=bant and rng.random() < 0.6,
                need=bant and rng.random() < 0.9,
                timeline=bant and rng.random() < 0.5,
                owner_key=rng.choice(world.owners).key if rng.random() < 0.85 else None,
                last_contacted_at=contacted,
                modified_at=modified,
            )
        )
        if stage in CONVERTED_STAGES or (stage == "salesqualifiedlead" and rng.random() < 0.3):
            _add_deal(rng, world, world.people[-1], stage, sales)
        if rng.random() < 0.3:
            _add_task(rng, world, world.people[-1])
    return world


def _add_deal(rng: random.Random, world: World, person: SeedPerson, stage: str, sales: list[Owner]) -> None:
    created = max(person.created_at, world.now - timedelta(days=HISTORY_DAYS))
    created += (world.now - created) * rng.random() * 0.8
    if stage in {"customer", "evangelist"}:
        hs_stage, sf_stage = "closedwon", "Closed Won"
    elif rng.random() < 0.2:
        hs_stage, sf_stage = "closedlost", "Closed Lost"
    else:
        hs_stage, choices = rng.choice(DEAL_STAGES)
        sf_stage = rng.choice(choices)
    closed = hs_stage.startswith("closed")
    close = created + timedelta(days=rng.randint(14, 120))
    if closed:
        close = min(close, world.now)
    amount = round(rng.lognormvariate(9.5, 1.0), -2) + 1000
    name = f"{person.last_name} - {rng.choice(CO_SUFFIX)} deal"
    world.deals.append(
        SeedDeal(
            key=f"d-{len(world.deals):06d}",
            name=name,
            person_key=person.key,
            company_key=person.company_key,
            amount=amount,
            created_at=created,
            close_date=close,
            in_hubspot=person.in_hubspot,
            hs_dealstage=hs_stage,
            in_salesforce=person.in_salesforce,
            sf_stage=sf_stage,
            owner_key=rng.choice(sales).key,
            modified_at=created + (world.now - created) * rng.random(),
        )
    )


def _add_task(rng: random.Random, world: World, person: SeedPerson) -> None:
    deal = world.deals[-1] if world.deals and world.deals[-1].person_key == person.key else None
    crm = (
        "hubspot" if person.in_hubspot and (not person.in_salesforce or rng.random() < 0.5) else "salesforce"
    )
    world.tasks.append(
        SeedTask(
            key=f"t-{len(world.tasks):06d}",
            subject=rng.choice(TASK_SUBJECTS),
            person_key=person.key,
            deal_key=deal.key if deal else None,
            due=world.now + timedelta(days=rng.randint(-60, 30)),
            status=rng.choice(("NOT_STARTED", "COMPLETED")),
            priority=rng.choice(("LOW", "MEDIUM", "HIGH")),
            owner_key=person.owner_key,
            crm=crm,
        )
    )
