"""The shipped mapping, loaded once per test process."""

from __future__ import annotations

import pytest

from connector.rules.compiled import Mapping
from connector.rules.loader import load_mapping


@pytest.fixture(scope="session")
def mapping() -> Mapping:
    return load_mapping()
