"""Hot reload: a valid edit takes over, a broken edit is refused with its place and the last good stays."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from connector.daemon.reload import MappingHolder, MappingRefusedError
from connector.rules.compiled import Mapping
from connector.rules.loader import MappingError, load_mapping

REPO = Path(__file__).resolve().parents[3]


def _load(paths: Sequence[Path]) -> Mapping:
    return load_mapping(*paths)


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "the-model.yaml"
    shutil.copy(REPO / "mappings" / "the-model.yaml", path)
    return path


def test_broken_edit_keeps_last_good(mapping_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    outcomes: list[str] = []
    holder = MappingHolder([mapping_file], _load, (MappingError,), outcomes.append)
    good = holder.current()
    text = mapping_file.read_text()
    lines = text.splitlines()
    bad_line = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    lines.insert(bad_line + 1, "no_such_section: [1, 2")
    mapping_file.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.ERROR):
        assert holder.current() is good
        assert holder.current() is good  # same bad content: not re-parsed, not re-logged
    assert outcomes == ["ok", "refused"]
    assert f"{mapping_file}:" in caplog.text
    assert "last good mapping" in caplog.text
    assert holder.last_error
    assert str(mapping_file) in holder.last_error

    mapping_file.write_text(text + "\n# reviewed edit\n")
    assert holder.current() is not good
    assert outcomes == ["ok", "refused", "ok"]
    assert holder.last_error is None


def test_first_load_failure_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules: !!python/object/apply:os.system [echo]\n")
    holder = MappingHolder([path], _load, (MappingError,))
    with pytest.raises(MappingRefusedError, match=f"{path}:1:"):
        holder.current()
