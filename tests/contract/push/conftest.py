"""Both sandboxes from one seeded world per test (the push tests mutate CRM state)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.push.harness import Crms, start_crms


@pytest.fixture
def crms(tmp_path: Path) -> Iterator[Crms]:
    sandboxes = start_crms(tmp_path)
    try:
        yield sandboxes
    finally:
        sandboxes.stop()
