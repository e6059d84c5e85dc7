"""Push efficiency: CRM writes per call against the minimum, on the standard scenario.

Standard scenario: `connector.sandbox.seed.generate(PEOPLE, seed=7)` loaded into both sandboxes,
one full cycle (pull -> evaluate -> outbox -> push) from an empty mirror, then a second cycle.
Minimum calls for T stage updates and K tasks: HubSpot ceil(T/100) + ceil(K/100) (batch/update,
tasks/batch/create), Salesforce ceil((T+K)/200) (sObject Collections). Figures come from the
sandboxes' call ledgers, not from the connector's own counters.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._report import emit
from connector.push.relay import Relay
from connector.push.store import MirrorStore
from connector.push.writes import Outcome, WriteKind
from tests.contract.push.harness import Crms, outbox, start_crms

PEOPLE = 2000
NAME = "push"


def _counts(crms: Crms) -> tuple[Counter[tuple[str, str]], Counter[str], Counter[str]]:
    """(crm, kind) -> writes sent; crm -> write calls; crm -> records carried by write calls."""
    sent = Counter((w.crm.value, w.kind.value) for _, w in outbox(crms, "status = 'sent'"))
    calls: Counter[str] = Counter()
    records: Counter[str] = Counter()
    for call in crms.write_calls():
        calls[call["crm"]] += 1
        records[call["crm"]] += call["records_in"]
    return sent, calls, records


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        crms = start_crms(Path(tmp), people=PEOPLE, seed=7)
        try:
            started = time.perf_counter()
            crms.cycle(push=False)  # pull, evaluate, outbox
            queued = time.perf_counter()
            mirror = crms.mirror()
            relayed = Relay(MirrorStore(mirror), crms.clients().writers()).drain()  # the relay alone
            pushed = time.perf_counter()
            mirror.close()
            sent, calls, records = _counts(crms)
            clears = sum(1 for _, w in outbox(crms, "status = 'sent'") if w.clear_first)
            stage, task = WriteKind.STAGE.value, WriteKind.TASK.value
            t_hs, k_hs = sent[("hubspot", stage)], sent[("hubspot", task)]
            t_sf, k_sf = sent[("salesforce", stage)], sent[("salesforce", task)]
            minimum = {
                "hubspot": math.ceil(t_hs / 100) + math.ceil(k_hs / 100),
                "salesforce": math.ceil((t_sf + k_sf) / 200),
            }
            emit(NAME, "pull + evaluate + outbox", queued - started, "s", note=f"{PEOPLE} people")
            emit(NAME, "push (relay, both CRMs)", pushed - queued, "s")
            total = t_hs + k_hs + t_sf + k_sf
            emit(NAME, "writes pushed per second", total / (pushed - queued), "writes/s")
            for crm, t, k in (("hubspot", t_hs, k_hs), ("salesforce", t_sf, k_sf)):
                emit(NAME, f"{crm} stage writes (T)", t, "writes")
                emit(NAME, f"{crm} tasks (K)", k, "tasks")
                floor = f"minimum {minimum[crm]}"
                if crm == "hubspot" and clears:  # the formula counts no clear requests
                    floor += f" + {math.ceil(clears / 100)} for the clears"
                emit(NAME, f"{crm} write calls", calls[crm], "calls", target=floor)
                emit(NAME, f"{crm} writes per call", (t + k) / max(calls[crm], 1), "writes/call")
                emit(NAME, f"{crm} records carried per request", records[crm] / max(calls[crm], 1), "records")
            emit(NAME, "hubspot backward moves (cleared first)", clears, "writes", note="+1 request per 100")
            emit(NAME, "dead letters (CRM refused the value)", relayed.count(Outcome.DEAD), "writes")
            crms.clear_ledgers()
            crms.cycle()
            _, again, _ = _counts(crms)
            emit(NAME, "second identical cycle: write calls", sum(again.values()), "calls", target="0")
        finally:
            crms.stop()


if __name__ == "__main__":
    main()
