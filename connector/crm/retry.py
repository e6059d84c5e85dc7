"""The one retry policy: classify every library's failure into a connector error kind, retry the
retryable ones with capped, jittered exponential backoff that honours Retry-After, and nothing else.

Both client libraries are configured not to retry on their own (see clients.py), so this module
is the only place a request is ever re-sent; a docstring elsewhere promising retries is a bug.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
import tenacity
import urllib3.exceptions
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from connector.errors import ConfigError, ConnectorError, FatalError, QuotaExhausted, RetryableError

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETRYABLE_STATUS = frozenset({408, 423, 425, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or garbled."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _json(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name) or headers.get(name.lower())
    return str(value) if value is not None else None


def _classify_hubspot(exc: Any) -> ConnectorError:
    """hubspot-api-client raises one ApiException class per API package; they share status/body/headers."""
    status = int(getattr(exc, "status", 0) or 0)
    body = _json(getattr(exc, "body", None))
    info = body if isinstance(body, dict) else {}
    category = info.get("category") or info.get("errorType") or ""
    message = f"HubSpot {status} {category}: {info.get('message') or getattr(exc, 'reason', '')}".strip()
    retry_after = parse_retry_after(_header(getattr(exc, "headers", None), "Retry-After"))
    if status == 429 and info.get("policyName") == "DAILY":
        return QuotaExhausted(message, retry_after=retry_after)
    if status in _RETRYABLE_STATUS:
        return RetryableError(message, retry_after=retry_after, status=status)
    return FatalError(message, status=status)


def _salesforce_codes(content: Any) -> set[str]:
    items = content if isinstance(content, list) else [content]
    return {str(i.get("errorCode")) for i in items if isinstance(i, dict) and i.get("errorCode")}


def _classify_salesforce(exc: SalesforceError) -> ConnectorError:
    status = int(exc.status or 0)
    codes = _salesforce_codes(exc.content)
    message = f"Salesforce {status} {','.join(sorted(codes)) or ''} on {exc.resource_name or exc.url}".strip()
    if "REQUEST_LIMIT_EXCEEDED" in codes:
        return QuotaExhausted(message)
    if status in _RETRYABLE_STATUS or "SERVER_UNAVAILABLE" in codes or "UNABLE_TO_LOCK_ROW" in codes:
        return RetryableError(message, status=status)
    return FatalError(message, status=status)


def classify(exc: BaseException) -> BaseException:
    """The connector kind for `exc`, or `exc` itself when it is not a known transport/CRM failure
    (a programming error must surface as itself, not be retried)."""
    if isinstance(exc, ConnectorError):
        return exc
    if type(exc).__module__.startswith("hubspot.") and hasattr(exc, "status") and hasattr(exc, "body"):
        return _classify_hubspot(exc)
    if isinstance(exc, SalesforceAuthenticationFailed):
        return ConfigError(f"Salesforce login refused: {exc.code}")
    if isinstance(exc, SalesforceError):
        return _classify_salesforce(exc)
    # TLS failures are configuration (wrong CA bundle), never transient; check before ConnectionError.
    if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
        return ConfigError(f"TLS failure: {type(exc).__name__}")
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return classify(exc.reason)
    transient = (
        requests.exceptions.Timeout,
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.TimeoutError,
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.NewConnectionError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, transient):
        return RetryableError(f"transport: {type(exc).__name__}")
    return exc


@dataclass(frozen=True)
class RetryPolicy:
    """Capped jittered exponential backoff; a server's Retry-After wins when it asks for longer.

    A Retry-After beyond `max_retry_after` ends the attempt at once: sleeping an hour inside a
    sync cycle helps nobody, the next scheduled cycle will pick up from the committed cursor.
    """

    attempts: int = 6
    initial: float = 0.5
    cap: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_exponential_jitter(multiplier=self.initial, max=self.cap, jitter=self.jitter)
        delay = backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        return max(delay, float(hint)) if hint is not None else delay

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        too_long = hint is not None and float(hint) > self.max_retry_after
        return too_long or state.attempt_number >= self.attempts

    def call(self, fn: Callable[[], T], *, what: str) -> T:
        """Run `fn`, re-raising failures as connector kinds and retrying only `RetryableError`."""

        def attempt() -> T:
            try:
                return fn()
            except Exception as exc:
                kind = classify(exc)
                if kind is exc:
                    raise
                raise kind from exc

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning("retrying %s in %.2fs (attempt %d): %s", what, wait, state.attempt_number, exc)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableError),
            wait=self._wait,
            stop=self._stop,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)
