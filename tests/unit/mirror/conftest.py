from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.mirror import Mirror, open_mirror


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mirror.db'}"


@pytest.fixture
def mirror(db_url: str) -> Iterator[Mirror]:
    m = open_mirror(db_url)
    yield m
    m.close()
