"""Salesforce sandbox throughput through the unmodified simple-salesforce client over real HTTPS.

Figure: requests/s (and records/s) of 2,000-record SOQL pages (`query` then `nextRecordsUrl`),
with a 20,000-person world (about 13,000 Leads). The real org is limited by its daily allocation
(15,000+ calls) rather than by speed, so the sandbox must simply never be a connector's bottleneck.
The server runs in its own process, as it would beside a connector; keep-alive TLS connections.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from simple_salesforce.api import Salesforce

from bench._report import emit, peak_rss_mb
from connector.sandbox.base import serve
from connector.sandbox.salesforce import make_app, make_tls
from connector.sandbox.seed import generate

PEOPLE = 20_000
SECONDS = 4.0
SOQL = "SELECT Id, FirstName, LastName, Email, Status, Lead_Score__c, SystemModstamp FROM Lead"


def _server(pipe: Connection, directory: str) -> None:
    ctx, ca_pem = make_tls(directory)
    app = make_app(generate(PEOPLE, 7), daily_limit=10**9)
    running = serve(app, ssl_context=ctx)
    pipe.send((running.url, str(ca_pem)))
    pipe.recv()  # block until the parent is done
    running.stop()


def _client(url: str, ca_pem: str) -> Salesforce:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides session.verify
    session.verify = ca_pem
    form = {
        "grant_type": "client_credentials",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
    }
    token = session.post(f"{url}/services/oauth2/token", data=form, timeout=30).json()["access_token"]
    return Salesforce(instance_url=url, session_id=token, session=session, version="59.0")


def main() -> None:
    parent, child = mp.Pipe()
    with tempfile.TemporaryDirectory() as tmp:
        proc = mp.Process(target=_server, args=(child, tmp), daemon=True)
        proc.start()
        url, ca_pem = parent.recv()
        sf = _client(url, ca_pem)
        requests_done = records = 0
        started = time.perf_counter()
        while time.perf_counter() - started < SECONDS:
            page = sf.query(SOQL)
            total = page["totalSize"]
            while True:
                requests_done += 1
                records += len(page["records"])
                if page["done"]:
                    break
                page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
        elapsed = time.perf_counter() - started
        parent.send("stop")
        proc.join(10)
    note = f"{total:,} Leads, 2,000-record pages, 1 client over HTTPS"
    emit(
        "sandbox_salesforce",
        "SOQL page requests/s (2,000 records)",
        requests_done / elapsed,
        "req/s",
        note=note,
    )
    emit(
        "sandbox_salesforce",
        "SOQL records/s via simple-salesforce",
        records / elapsed,
        "records/s",
        note=note,
    )
    emit("sandbox_salesforce", "client peak RSS", peak_rss_mb(), "MB")


if __name__ == "__main__":
    main()
