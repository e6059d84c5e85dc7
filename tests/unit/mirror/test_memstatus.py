"""SQLite's memory statistics go off only in a process with nothing open, and SQLite keeps working.

Each case runs in a fresh interpreter: the setting is process-wide and this one has mirrors open.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from connector.mirror.memstatus import _library

PROBE = """
import sqlite3
from connector.mirror.memstatus import _library, memory_statistics_off
{before}
first = memory_statistics_off()
c = sqlite3.connect(":memory:")
c.execute("create table t (x)")
c.executemany("insert into t values (?)", [(i,) for i in range(100)])
total = c.execute("select sum(x) from t").fetchone()[0]
print(first, memory_statistics_off(), total, _library().sqlite3_memory_used() > 0)
"""


def _run(before: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(before=before)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


@pytest.mark.skipif(_library() is None, reason="the sqlite3 module's library is not reachable here")
@pytest.mark.parametrize(
    ("before", "expected"),
    [
        # nothing open: off, and then counting shows nothing; a second call changes nothing
        ("", ["True", "False", "4950", "False"]),
        # a connection open: left alone (still counting), and both connections work
        ("kept = sqlite3.connect(':memory:')", ["False", "False", "4950", "True"]),
    ],
)
def test_statistics_off_only_when_nothing_is_open(before: str, expected: list[str]) -> None:
    assert _run(before) == expected
