"""Structured logging with a redaction filter that runs before any handler sees a record.

Why a filter on the handler and not discipline at call sites: a token can reach a log line by
paths nobody wrote on purpose — an exception message quoting a request, a library's debug dump of
headers, a URL with `access_token=` in its query. Every registered `Secret` value, and anything that
looks like an `Authorization` header or a token parameter, is scrubbed from the formatted message,
its arguments and its traceback text before the record is emitted.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TextIO

from connector.config import Secret, Settings, watch_secrets

REDACTED = "***"

# Header/parameter shapes that carry credentials whatever their value.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer\s+|basic\s+|oauth\s+)?[^\s'\",}]+"),
    re.compile(
        r"(?i)((?:access|refresh|id)_token|client_secret|password|security_token|sessionid)"
        r"(['\"]?\s*[:=]\s*['\"]?)[^\s'\"&,}]+"
    ),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
)
_MIN_SECRET_LEN = 4  # shorter values would scrub ordinary words

_registry_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | Secret | None) -> None:
    """Scrub this exact value from every log line from now on (tokens minted at runtime too)."""
    raw = value.reveal() if isinstance(value, Secret) else value
    if raw and len(raw) >= _MIN_SECRET_LEN:
        with _registry_lock:
            _secrets.add(raw)


watch_secrets(register_secret)  # every Secret built after this import is scrubbed from logs


def register_settings(settings: Settings) -> None:
    """Register every `Secret` held by the settings (both CRMs)."""
    for section in (settings.hubspot, settings.salesforce):
        for spec in fields(section):
            value = getattr(section, spec.name)
            if isinstance(value, Secret):
                register_secret(value)


def redact(text: str) -> str:
    """The text with every registered secret and credential-shaped fragment replaced by ***."""
    with _registry_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{REDACTED}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _PATTERNS[2].sub(lambda m: f"{m.group(1)}{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Render the message once, redact it, and freeze it so no later formatter re-expands args."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # exc_text now carries the (redacted) traceback
        for key in _EXTRA_KEYS.intersection(record.__dict__):
            value = record.__dict__[key]
            if isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_EXTRA_KEYS = frozenset({"url", "headers", "body", "detail", "error"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, plus any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_text:
            payload["exc"] = record.exc_text
        return redact(json.dumps(payload, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """Human lines with `key=value` extras, redacted as a whole."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return redact(line)


def setup_logging(
    *, level: str | int = "INFO", json_lines: bool = False, stream: TextIO | None = None
) -> logging.Handler:
    """Install one redacting handler on the root logger (replacing any earlier one of ours)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_revops", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._revops = True  # type: ignore[attr-defined]  # marks our handler for idempotent setup
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    logging.captureWarnings(True)
    return handler
