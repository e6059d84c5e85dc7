"""Rules engine throughput: evaluations per CPU-second over realistic people (target >= 100,000/s).

People are generated like the mirror's load_people hands them to the sync: a HubSpot contact,
every other one with a Salesforce Lead too, scores as strings (some "n/a"), BANT checkboxes,
deals in both CRMs, spread over every stage with stage-entry times from minutes to a year ago.

Two passes, both held to the target: "first sight" evaluates each person as generated, with a
stored stage the rules have not settled yet (0.66 decisions per evaluation: what a sync cycle's
settle loop does right after the CRMs changed); "steady state" evaluates the same people after
settling them, as every later cycle does (nothing decided).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._report import emit, peak_rss_mb
from connector.model import (
    LADDER,
    Crm,
    Person,
    SourceRecord,
    Stage,
    StageChange,
    StageTransition,
    TaskDecision,
)
from connector.rules.compiled import Mapping
from connector.rules.engine import evaluate, task_key
from connector.rules.loader import load_mapping

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HS_STAGES = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]
HS_LEAD = ["NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "ATTEMPTED_TO_CONTACT", "BAD_TIMING", None]
SF_LEAD = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", None]
HS_DEALS = ["appointmentscheduled", "qualifiedtobuy", "contractsent", "closedwon", "closedlost"]
SF_OPPS = ["Prospecting", "Needs Analysis", "Negotiation/Review", "Closed Won", "Closed Lost"]
TITLES = ["Head of Sales", "Engineer", "Marketing Manager", "CTO", "Analyst", "VP Revenue"]


def make_person(i: int, rng: random.Random) -> Person:
    email = f"person{i}@example{i % 97}.com"
    ago = NOW - timedelta(minutes=rng.randint(5, 60 * 24 * 365))
    score = rng.choice([str(rng.randint(0, 100)), str(rng.randint(40, 100)), "n/a" if i % 50 == 0 else "55"])
    hs = SourceRecord(
        Crm.HUBSPOT,
        "contacts",
        str(100_000 + i),
        {
            "email": email,
            "lifecyclestage": rng.choice(HS_STAGES),
            "hs_lead_status": rng.choice(HS_LEAD),
            "hubspotscore": score,
            "jobtitle": rng.choice(TITLES),
            "numemployees": str(rng.choice([10, 50, 200, 1000])),
            "hubspot_owner_id": str(rng.randint(1, 20)),
            "notes_last_contacted": (ago + timedelta(hours=rng.randint(0, 72))).isoformat()
            if i % 3
            else None,
            "createdate": ago.isoformat(),
        },
        ago,
    )
    records = [hs]
    if i % 2:
        flags = {
            f: rng.choice(["true", "false"])
            for f in (
                "Budget_Confirmed__c",
                "Authority_Confirmed__c",
                "Need_Confirmed__c",
                "Timeline_Confirmed__c",
            )
        }
        records.append(
            SourceRecord(
                Crm.SALESFORCE,
                "Lead",
                f"00Q{i:012d}",
                {
                    "Email": email,
                    "Status": rng.choice(SF_LEAD),
                    "Lead_Score__c": score,
                    "Title": "CTO",
                    "OwnerId": f"005{i % 20:012d}",
                    **flags,
                },
                ago,
            )
        )
    deals: list[SourceRecord] = []
    if i % 4 == 0:
        deals.append(
            SourceRecord(
                Crm.HUBSPOT,
                "deals",
                f"d{i}",
                {"dealstage": rng.choice(HS_DEALS), "pipeline": "default", "closedate": ago.isoformat()},
                ago,
            )
        )
    if i % 6 == 0:
        deals.append(
            SourceRecord(
                Crm.SALESFORCE,
                "Opportunity",
                f"006{i}",
                {"StageName": rng.choice(SF_OPPS), "CloseDate": ago.date().isoformat()},
                ago,
            )
        )
    stage = rng.choice([*LADDER[:7], Stage.RECYCLED, Stage.CHURNED, None])
    history = (StageChange(stage, ago, "seed"),) if stage else ()
    return Person(f"p{i}", email, tuple(records), tuple(deals), stage, history)


def settle(p: Person, mapping: Mapping) -> Person:
    """Apply the person's decisions as a sync cycle would, until nothing more is decided."""
    for _ in range(4):
        decisions = evaluate(p, p.history, mapping, NOW)
        moves = [d for d in decisions if isinstance(d, StageTransition)]
        tasks = tuple(task_key(d) for d in decisions if isinstance(d, TaskDecision))
        if not moves and not tasks:
            break
        stage, history = p.stage, p.history
        for move in moves:
            stage, history = move.to_stage, (*history, StageChange(move.to_stage, NOW, move.why.rule_id))
        p = Person(p.person_id, p.email, p.records, p.deals, stage, history, p.open_tasks + tasks)
    return p


def rate(people: list[Person], mapping: Mapping, seconds: float = 2.0) -> tuple[float, float]:
    """(evaluations per CPU second, decisions per evaluation) over repeated passes.

    CPU time of this process, not wall time, so a busy shared machine does not halve the figure.
    """
    done, decided, started = 0, 0, time.process_time()
    while time.process_time() - started < seconds:
        for p in people:
            decided += len(evaluate(p, p.history, mapping, NOW))
        done += len(people)
    return done / (time.process_time() - started), decided / done


def main() -> None:
    mapping = load_mapping()
    rng = random.Random(7)
    people = [make_person(i, rng) for i in range(20_000)]
    first, first_decisions = rate(people, mapping)
    settled = [settle(p, mapping) for p in people]
    steady, steady_decisions = rate(settled, mapping)
    emit("rules", "evaluations per CPU-second, steady state", steady, "eval/s", target=">= 100,000")
    emit("rules", "decisions per evaluation, steady state", steady_decisions, "decisions")
    emit("rules", "evaluations per CPU-second, first sight", first, "eval/s", target=">= 100,000")
    emit("rules", "decisions per evaluation, first sight", first_decisions, "decisions")
    emit("rules", "peak RSS", peak_rss_mb(), "MB")


if __name__ == "__main__":
    main()
