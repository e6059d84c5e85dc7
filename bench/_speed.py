"""A fixed CPU workload timed beside the benchmarks, so figures from different runs can be compared.

This shared 2-core box drifts: identical pulls measured 35 µs per record in one hour and 62 in
another. The reference does the same kinds of work as the connector (JSON, dicts, hashing,
SQLite) and never changes, so a figure is read against the reference measured beside it.

It flags a contended moment; it is not a divisor. Best of 7 short (~15 ms) runs, it finds the
quiet moments between a neighbour's bursts, which a 5-second pull cannot. A longer single run and
a memory-bound walk (3 M shuffled floats) did not track the mirror's spread either (2026-11-23).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time

_RECORDS = 2_000


def _body() -> bytes:
    records = [
        {"id": str(i), "properties": {"email": f"P{i}@Co.example", "stage": "lead", "score": str(i % 100)}}
        for i in range(_RECORDS)
    ]
    return json.dumps({"results": records}).encode()


def _workload(body: bytes) -> int:
    rows = []
    for record in json.loads(body)["results"]:
        props = {k: v for k, v in record["properties"].items() if v is not None}
        content = json.dumps(props, sort_keys=True, separators=(",", ":"))
        digest = hashlib.blake2b(content.encode(), digest_size=16).digest()
        rows.append((record["id"], props["email"].strip().lower(), digest, content))
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE r (id TEXT PRIMARY KEY, email TEXT, hash BLOB, content TEXT)")
    db.execute("CREATE INDEX r_email ON r (email)")
    with db:
        db.executemany("INSERT INTO r VALUES (?, ?, ?, ?)", rows)
    (count,) = db.execute("SELECT count(*) FROM r WHERE email LIKE 'p1%'").fetchone()
    db.close()
    return int(count)


def reference_ms(repeats: int = 7) -> float:
    """Best-of-`repeats` CPU milliseconds of the fixed workload (lower means a faster phase)."""
    body = _body()
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        _workload(body)
        best = min(best, time.process_time() - start)
    return best * 1000
