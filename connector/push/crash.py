"""A debugging knob for the kill -9 tests: `REVOPS_CRASH_AT=<point>[:<tag>...]` ends the process
with os._exit at that point, exercising the real code path up to the crash.

Points: after_pull and after_outbox_commit (sync), after_crm_2xx and after_local_commit (relay).
Tags narrow it, e.g. `after_crm_2xx:hubspot:task` crashes right after HubSpot accepted a task
batch. Unset in production; reading an env var has no other effect.
"""

from __future__ import annotations

import os

ENV = "REVOPS_CRASH_AT"
EXIT_CODE = 137  # what a SIGKILL'd process reports, so the tests read the same either way


def crash_point(point: str, *tags: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, *need = wanted.split(":")
    if name == point and set(need) <= set(tags):
        os._exit(EXIT_CODE)
