"""Secrets never reach a log line: registered values, Authorization headers, token parameters."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from connector.config import Secret, Settings
from connector.logs import redact, register_settings, setup_logging

TOKEN = "pat-na1-5f2c9a1e-0d7b-4c1e-9a3b-token-under-test"
SF_SECRET = "sf-client-secret-under-test-998877"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    register_settings(
        Settings.from_env({"HUBSPOT_ACCESS_TOKEN": TOKEN, "SALESFORCE_CLIENT_SECRET": SF_SECRET})
    )
    handler = setup_logging(level="DEBUG", json_lines=True, stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("token is %s", (TOKEN,)),
        ("headers: %s", ({"Authorization": f"Bearer {TOKEN}"},)),
        ("secret in a url https://x/?client_secret=%s&a=1", (SF_SECRET,)),
        ("body %s", (f"refresh_token=unregistered-rt-123&client_secret={SF_SECRET}",)),
    ],
)
def test_secrets_are_scrubbed_from_messages(captured: io.StringIO, message: str, args: tuple[object]) -> None:
    logging.getLogger("connector.test").debug(message, *args)
    out = captured.getvalue()
    assert TOKEN not in out
    assert SF_SECRET not in out
    assert "unregistered-rt-123" not in out
    assert "***" in out
    assert json.loads(out.splitlines()[-1])["level"] == "DEBUG"


def test_secrets_are_scrubbed_from_tracebacks_and_extras(captured: io.StringIO) -> None:
    def fail() -> None:
        raise RuntimeError(f"401 for Authorization: Bearer {TOKEN}")

    try:
        fail()
    except RuntimeError:
        url = f"/x?access_token={TOKEN}"
        logging.getLogger("connector.test").exception("call failed", extra={"url": url})
    out = captured.getvalue()
    assert TOKEN not in out
    record = json.loads(out.splitlines()[-1])
    assert "RuntimeError" in record["exc"]
    assert record["url"] == "/x?access_token=***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***"),
        ('{"access_token": "tok123456"}', '{"access_token": "***"}'),
        ("password=hunter22&x=1", "password=***&x=1"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact_shapes(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_token_minted_at_runtime_is_scrubbed(captured: io.StringIO) -> None:
    minted = Secret("00D5g000004Cafe!AQ0AQruntimeSessionToken")  # e.g. a Salesforce session from OAuth
    logging.getLogger("connector.test").warning("session %s expired", minted.reveal())
    assert minted.reveal() not in captured.getvalue()
