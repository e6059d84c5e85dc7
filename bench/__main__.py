"""Run every bench/bench_*.py in its own process and write the results table.

Each benchmark runs in a fresh interpreter so peak-RSS figures are its own.
Usage: python -m bench [NAME ...]   (names without the bench_ prefix, e.g. `rules pull`)
A full run writes results/latest.{json,md}; a run of some benchmarks writes results/partial.*,
so the committed table always comes from one complete run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._speed import reference_ms

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _row(r: dict[str, Any]) -> str:
    cells = (r["bench"], r["metric"], f"{r['value']:,}", r["unit"], r["target"], r.get("note") or "")
    return "| " + " | ".join(cells) + " |"


def _machine() -> str:
    cpus = len(os.sched_getaffinity(0))
    return f"{platform.machine()}, {cpus} cores, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str]) -> int:
    wanted = {name.removeprefix("bench_") for name in argv}
    known = {p.stem[6:]: p for p in HERE.glob("bench_*.py")}
    if unknown := sorted(wanted - known.keys()):
        names = ", ".join(sorted(known))
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {names}", file=sys.stderr)
        return 2
    scripts = sorted(p for name, p in known.items() if not wanted or name in wanted)
    out = "partial" if wanted and wanted != known.keys() else "latest"
    RESULTS.mkdir(exist_ok=True)
    raw = RESULTS / "latest.jsonl.tmp"
    raw.unlink(missing_ok=True)
    failed = []
    speed_before = reference_ms()
    for script in scripts:
        print(f"\n== {script.stem} ==", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(script)],
            env={**os.environ, "BENCH_RESULTS": str(raw)},
            check=False,
        )
        print(f"   ({time.perf_counter() - started:.1f} s)")
        if proc.returncode:
            failed.append(script.stem)
    records = [json.loads(line) for line in raw.read_text().splitlines()] if raw.exists() else []
    raw.unlink(missing_ok=True)
    speed = {"before": round(speed_before, 1), "after": round(reference_ms(), 1)}
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (RESULTS / f"{out}.json").write_text(
        json.dumps(
            {"machine": _machine(), "when": stamp, "speed_reference_ms": speed, "results": records}, indent=1
        )
        + "\n"
    )
    lines = [
        f"Measured {stamp} on {_machine()}.",
        (
            f"Machine speed reference (bench/_speed.py, CPU ms, lower is faster): {speed['before']}"
            f" before the benchmarks, {speed['after']} after."
        ),
        "",
        "| benchmark | metric | value | unit | target | note |",
        "|---|---|---:|---|---|---|",
        *(_row(r) for r in records),
    ]
    (RESULTS / f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
