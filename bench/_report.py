"""One way for every benchmark to publish its figures: a printed line plus a JSON record.

`make bench` sets BENCH_RESULTS to a JSON-lines file; each `emit` appends one record there, and
`python -m bench` turns the collected records into bench/results/latest.{json,md}.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(bench: str, metric: str, value: float, unit: str, *, target: str = "", note: str = "") -> None:
    """Print one figure and record it for the suite's table."""
    record: dict[str, Any] = {
        "bench": bench,
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
        "target": target,
        "note": note,
    }
    suffix = (f"  (target {target})" if target else "") + (f"  [{note}]" if note else "")
    print(f"{bench:<18} {metric:<48} {value:>14,.2f} {unit}{suffix}")
    out = os.environ.get("BENCH_RESULTS")
    if out:
        with Path(out).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
