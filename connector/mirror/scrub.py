"""Keep credentials out of stored error text: the mirror is read by people and copied into reports."""

from __future__ import annotations

import re

MAX_ERROR = 2000
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (
        re.compile(
            r"(?i)\b((?:access|refresh)_token|client_secret|password|api_?key|session_?id|sid)"
            r"([\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
        ),
        r"\1\2***",
    ),
    (re.compile(r"(?i)\bpat-[a-z0-9]{2,4}-[0-9a-f-]{8,}"), "***"),  # HubSpot private-app token
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]+"), "***"),  # Salesforce session id
)


def scrub(text: str) -> str:
    """Redact token-shaped substrings and cap the length."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text[:MAX_ERROR]
