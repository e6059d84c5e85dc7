"""The scenario table names tests by id: a renamed test would silently drop out of the fault suite
(`python -m tests.faults.summary` then stops with "not found"), so every id must resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.faults.scenarios import all_proofs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("proof", all_proofs())
def test_every_proof_names_an_existing_test(proof: str) -> None:
    path, name = proof.split("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    assert re.search(rf"^def {re.escape(name)}\(", source, re.MULTILINE), f"{proof}: no such test (renamed?)"
