"""`revops-sync sandbox up` writes exactly the variables the connector reads; `sync` works from them."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

from connector.config import Settings, read_env_file
from tests.e2e.harness import CLI, MAPPING


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_sandbox_up_then_sync_from_its_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "var" / "sandbox.env"
    argv = [str(CLI), "sandbox", "up", "--hubspot-port", "0", "--salesforce-port", "0", "--contacts", "300"]
    up = subprocess.Popen(
        [*argv, "--env-file", str(env_file)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "SALESFORCE_CA_BUNDLE" not in _text(env_file):
            time.sleep(0.1)
        assert env_file.stat().st_mode & 0o077 == 0  # credentials: owner-only
        values = read_env_file(env_file)
        settings = Settings.from_env({}, env_file=env_file)
        assert settings.hubspot.access_token is not None
        assert settings.salesforce.client_secret is not None
        assert settings.salesforce.login_url == settings.salesforce.instance_url
        assert Path(values["SALESFORCE_CA_BUNDLE"]).is_file()

        sync = subprocess.run(
            [str(CLI), "sync", "--env-file", str(env_file), "--mapping", str(MAPPING)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PATH": str(CLI.parent), "COLUMNS": "200"},
        )
        assert sync.returncode == 0, sync.stdout[-2000:] + sync.stderr[-2000:]
        assert "salesforce.leads" in sync.stdout
        assert re.search(r"hubspot\s*│\s*sent\s*│\s*[1-9]", sync.stdout), sync.stdout
        assert re.search(r"people evaluated [1-9]\d* \(unchanged, skipped: 0\)", sync.stdout), sync.stdout
    finally:
        up.send_signal(signal.SIGTERM)
        out, _ = up.communicate(timeout=30)
    assert up.returncode == 0
    assert "seeded 300 people" in out
    assert "sandboxes stopped" in out
