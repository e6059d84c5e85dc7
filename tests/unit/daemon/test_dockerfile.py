"""The image's promises, read from the Dockerfile (no Docker daemon is needed to check them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCKERFILE = (Path(__file__).resolve().parents[3] / "Dockerfile").read_text()


@pytest.mark.parametrize(
    ("promise", "pattern"),
    [
        ("slim Python base", r"^FROM python:3\.\d+-slim\b"),
        ("non-root user", r"^USER (?!root\b)\w+"),
        ("daemon entrypoint", r'^ENTRYPOINT \["revops-sync", "serve"\]'),
        ("mirror and mappings volumes", r'^VOLUME \["/app/var", "/app/mappings"\]'),
        ("health check on /healthz", r"^HEALTHCHECK .*\n?.*/healthz"),
        ("listens beyond loopback", r'"--health-host", "0\.0\.0\.0"'),
    ],
)
def test_dockerfile_promise(promise: str, pattern: str) -> None:
    assert re.search(pattern, DOCKERFILE, re.MULTILINE), promise


def test_runtime_stage_is_the_last_and_runs_as_the_user_it_creates() -> None:
    last_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    user = re.search(r"^USER (\w+)", last_stage, re.MULTILINE)
    assert user is not None
    assert "useradd --system --uid 10001 --gid revops" in last_stage
    assert user.group(1) == "revops"
