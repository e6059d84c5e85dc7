"""The fault suite's summary: per §7 scenario, how many of its proofs ran and passed, and what was
lost (tests that measure loss report it with `record_property("lost", n)`; it must be 0).

Loaded for every pytest run by tests/conftest.py, so `make test` (fast subset) and
`make test-all` end with the table whenever scenario tests ran. Standalone:

    python -m tests.faults.summary          # tests/faults and every proof elsewhere, fast ones
    python -m tests.faults.summary --slow   # including the long runs (kill -9 x 30, ...)
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.faults.scenarios import SCENARIOS, all_proofs, scenarios_of


@dataclass
class _Tally:
    outcome: dict[str, str] = field(default_factory=dict)  # nodeid -> passed/failed/skipped
    scenarios: dict[str, list[int]] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    known_lost: dict[str, int] = field(default_factory=dict)  # by xfail tests of known bugs


TALLY = _Tally()


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("scenario")
    found = scenarios_of(item.nodeid, int(marker.args[0]) if marker else None)
    if found:
        item.user_properties.append(("scenarios", sorted(found)))


def _props(report: pytest.TestReport) -> dict[str, Any]:
    return {str(p[0]): p[1] for p in report.user_properties}  # tuples, or lists after xdist


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    props = _props(report)
    if "scenarios" not in props:
        return
    TALLY.scenarios[report.nodeid] = list(props["scenarios"])
    previous = TALLY.outcome.get(report.nodeid)
    if "lost" in props:
        counted = TALLY.known_lost if hasattr(report, "wasxfail") or previous == "xfail" else TALLY.lost
        counted[report.nodeid] = int(props["lost"])
    if hasattr(report, "wasxfail"):  # a known bug, documented by an xfail: counted apart
        TALLY.outcome[report.nodeid] = "xfail"
        TALLY.known_lost.setdefault(report.nodeid, 0)
    elif report.failed:
        TALLY.outcome[report.nodeid] = "failed"
    elif report.when == "call" and previous != "failed":
        TALLY.outcome[report.nodeid] = "skipped" if report.skipped else "passed"
    elif report.skipped and previous is None:
        TALLY.outcome[report.nodeid] = "skipped"


def summary_lines() -> list[str]:
    by_scenario: dict[int, list[str]] = defaultdict(list)
    for nodeid, numbers in TALLY.scenarios.items():
        for n in numbers:
            by_scenario[n].append(TALLY.outcome.get(nodeid, "skipped"))
    lines = []
    run = passed = 0
    for s in SCENARIOS:
        outcomes = by_scenario.get(s.number, [])
        ran = [o for o in outcomes if o in {"passed", "failed"}]
        known = outcomes.count("xfail")
        ok = bool(ran) and all(o == "passed" for o in ran)
        run += bool(ran)
        passed += ok
        state = "PASS" if ok else ("FAIL" if ran else "not run")
        bugs = f" (+{known} known bug, xfail)" if known else ""
        lines.append(f"#{s.number:<2} {state:<7} {ran.count('passed')}/{len(ran)} tests{bugs}  {s.fault}")
    lost = sum(TALLY.lost.values())
    lines.append(
        f"scenarios run: {run} of {len(SCENARIOS)}, passed: {passed}, "
        f"lost: {lost} (measured by {len(TALLY.lost)} tests)"
    )
    if TALLY.known_lost:
        lines.append(
            f"known bugs (xfail): {len(TALLY.known_lost)} tests, "
            f"{sum(TALLY.known_lost.values())} writes lost there; see their reasons above"
        )
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY.scenarios:
        return
    terminalreporter.section("fault scenarios (sync-reliability-notes.md §7)")
    for line in summary_lines():
        terminalreporter.write_line(line)


def main(argv: list[str]) -> int:
    """Run every proof; the tally lives in the plugin module tests/conftest.py loads, not __main__."""
    from tests.faults import summary as plugin  # noqa: PLC0415 - the instance pytest registers

    slow = "--slow" in argv
    outside = [p for p in all_proofs() if not p.startswith("tests/faults/")]
    args = [
        "-q",
        "-n",
        "2",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        "-m",
        "" if slow else "not slow",
    ]
    code = pytest.main([*args, "tests/faults", *outside])
    lost = sum(plugin.TALLY.lost.values())
    failed = any(o == "failed" for o in plugin.TALLY.outcome.values())
    return int(code) or int(failed or lost > 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
