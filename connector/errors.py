"""The connector's failure kinds, with one home so pull, push and the scheduler agree on them.

Each CRM library raises its own exceptions; `connector.crm.retry.classify` turns them into these
kinds once, and every caller decides by kind: retry a `RetryableError`, stop the cycle without
moving the cursor on `QuotaExhausted` or `FatalError`, fix the setup on `ConfigError`, and
dead-letter a `SkippableRecord` while the run goes on. Messages name the place (stream, record,
field) and never carry a credential.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every failure the connector raises on purpose."""


class ConfigError(ConnectorError):
    """The setup is wrong (missing credential, unknown field, bad stream name): retrying cannot help."""


class FatalError(ConnectorError):
    """The CRM refused in a way retrying will not fix (400, 403, 404 on a read); stop the cycle."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryableError(ConnectorError):
    """A transient failure (429 burst, 5xx, timeout, reset); `retry_after` is the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class QuotaExhausted(ConnectorError):  # noqa: N818 - the kind's name, shared with the push side
    """The daily API allowance is spent (HubSpot 429 DAILY, Salesforce REQUEST_LIMIT_EXCEEDED).

    Not retried: waiting seconds cannot help and each retry burns the shared org quota further.
    The cycle stops without advancing its cursor and the scheduler alerts.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SkippableRecord(ConnectorError):  # noqa: N818 - the kind's name, shared with the push side
    """One record cannot be handled (bad value, 404 on write); record it and carry on with the rest."""

    def __init__(self, message: str, *, record_id: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.record_id = record_id
        self.field = field
