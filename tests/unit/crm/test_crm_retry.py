"""The one retry policy: what each library's failure becomes, and how long we wait before retrying."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import cast

import pytest
import requests
import urllib3.exceptions
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.deals.exceptions import ServiceException
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from connector.crm.retry import RetryPolicy, classify, parse_retry_after
from connector.errors import ConfigError, FatalError, QuotaExhausted, RetryableError


def hubspot_error(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> Exception:
    exc = ContactsApiException(status=status, reason="x")
    exc.body = json.dumps(body)
    exc.headers = headers or {}
    return cast("Exception", exc)  # the hubspot client has no type hints


def salesforce_error(cls: type[SalesforceError], status: int, errors: list[dict[str, str]]) -> Exception:
    """What simple_salesforce raises: its `content` is the parsed JSON body, though hinted as bytes."""
    return cls("u", status, "query", errors)  # type: ignore[arg-type]  # see the docstring


@pytest.mark.parametrize(
    ("exc", "kind", "retry_after"),
    [
        (hubspot_error(429, {"policyName": "DAILY", "errorType": "RATE_LIMIT"}), QuotaExhausted, None),
        (
            hubspot_error(429, {"policyName": "TEN_SECONDLY_ROLLING"}, {"Retry-After": "3"}),
            RetryableError,
            3.0,
        ),
        (hubspot_error(429, {"message": "You have reached your secondly limit."}), RetryableError, None),
        (ServiceException(status=502, reason="Bad Gateway"), RetryableError, None),
        (hubspot_error(400, {"category": "VALIDATION_ERROR"}), FatalError, None),
        (
            salesforce_error(
                SalesforceRefusedRequest,
                403,
                [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests"}],
            ),
            QuotaExhausted,
            None,
        ),
        (
            salesforce_error(SalesforceGeneralError, 503, [{"errorCode": "SERVER_UNAVAILABLE"}]),
            RetryableError,
            None,
        ),
        (
            salesforce_error(SalesforceMalformedRequest, 400, [{"errorCode": "MALFORMED_QUERY"}]),
            FatalError,
            None,
        ),
        (requests.exceptions.ReadTimeout("slow"), RetryableError, None),
        (urllib3.exceptions.ProtocolError("reset"), RetryableError, None),
        (requests.exceptions.SSLError("unknown CA"), ConfigError, None),
    ],
)
def test_classification(exc: Exception, kind: type[Exception], retry_after: float | None) -> None:
    got = classify(exc)
    assert type(got) is kind
    assert getattr(got, "retry_after", None) == retry_after


def test_programming_errors_are_not_classified() -> None:
    bug = KeyError("id")
    assert classify(bug) is bug


@pytest.mark.parametrize(("header", "seconds"), [("2", 2.0), ("0.5", 0.5), (None, None), ("soon", None)])
def test_retry_after_parsing(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def flaky(failures: list[Exception]) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return "ok"

    return calls, fn


def test_retryable_failures_are_retried_and_retry_after_is_honoured() -> None:
    slept: list[float] = []
    policy = RetryPolicy(initial=0.01, cap=0.05, jitter=0.0, sleep=slept.append)
    failures = [hubspot_error(429, {}, {"Retry-After": "7"}), ServiceException(status=503, reason="x")]
    calls, fn = flaky(failures)
    assert policy.call(fn, what="t") == "ok"
    assert len(calls) == 3
    assert slept[0] == 7.0  # the server asked for longer than our backoff
    assert slept[1] <= 0.05  # capped


@pytest.mark.parametrize(
    "failure",
    [
        hubspot_error(429, {"policyName": "DAILY"}),
        hubspot_error(404, {"category": "OBJECT_NOT_FOUND"}),
    ],
)
def test_quota_and_fatal_failures_are_not_retried(failure: Exception) -> None:
    calls, fn = flaky([failure, failure])
    with pytest.raises((QuotaExhausted, FatalError)):
        RetryPolicy(sleep=lambda _s: None).call(fn, what="t")
    assert len(calls) == 1


def test_attempts_are_capped_and_the_last_error_surfaces() -> None:
    slept: list[float] = []
    calls, fn = flaky([ServiceException(status=500, reason="x")] * 10)
    with pytest.raises(RetryableError, match="HubSpot 500"):
        RetryPolicy(attempts=4, sleep=slept.append).call(fn, what="t")
    assert len(calls) == 4
    assert len(slept) == 3


def test_a_retry_after_beyond_the_cap_ends_the_attempt() -> None:
    calls, fn = flaky([hubspot_error(429, {}, {"Retry-After": "3600"})] * 3)
    with pytest.raises(RetryableError):
        RetryPolicy(max_retry_after=60, sleep=lambda _s: None).call(fn, what="t")
    assert len(calls) == 1
