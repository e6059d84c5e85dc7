"""Authenticated, non-retrying clients for both CRMs, wrapped so every call goes through one policy.

Why the libraries' own retries are switched off: hubspot-api-client hands `retry=` to urllib3, whose
default `Retry(3)` silently re-sends GETs on 429/503 with Retry-After and never re-sends POSTs
(search, batch) — crm-api-facts §5. Two layers of retry multiply attempts and hide quota burns,
so urllib3 gets `retries=False` and `connector.crm.retry.RetryPolicy` is the only retry there is.
simple-salesforce only re-logins on 401 when it owns a login partial; we log in ourselves (one
OAuth call we control, with a CA bundle) and refresh once on an expired session, then replay.

Tokens live in `Secret` and are revealed only into the Authorization header; raw responses are
read with `_preload_content=False`, which also keeps the HubSpot client from debug-logging bodies
(its OAuth answer carries the token).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import requests
from hubspot import HubSpot
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from connector.config import HubSpotSettings, SalesforceSettings, Secret
from connector.crm.pacing import Pacer
from connector.crm.retry import RetryPolicy
from connector.errors import ConfigError, FatalError

log = logging.getLogger(__name__)
T = TypeVar("T")

_EXPIRY_MARGIN = 60.0  # refresh this long before `expires_in` runs out (HubSpot: 401 is no signal)


def _loads(body: bytes) -> Any:
    """A response body's JSON: orjson (a HubSpot search page decodes ~2x faster), and `json` for
    what orjson refuses but Python's decoder accepts (lone surrogate escapes from bad UTF-8
    upstream, NaN), so such a page still arrives and its records are mirrored and flagged.
    orjson reads an integer beyond 64 bits as a float; HubSpot sends none (property values are
    strings, ids and totals fit in 53 bits)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


class _Salesforce(Salesforce):
    """simple-salesforce with response bodies decoded by orjson (a query page ~2x faster); what
    orjson refuses goes through the library's own `requests` decoding, as before."""

    def parse_result_to_json(self, result: requests.Response) -> Any:
        try:
            return orjson.loads(result.content)
        except orjson.JSONDecodeError:
            return super().parse_result_to_json(result)


@dataclass
class _Token:
    value: Secret
    expires_at: float | None  # monotonic seconds; None for non-expiring private-app tokens


class HubSpotConnection:
    """One `hubspot.HubSpot` client, its API objects built once (each discovery access builds a new
    urllib3 pool), a token refreshed from `expires_in`, and a call counter for the budget."""

    def __init__(
        self, settings: HubSpotSettings, *, policy: RetryPolicy | None = None, timeout: float = 30.0
    ) -> None:
        self._settings = settings
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.calls = 0
        base = settings.base_url.rstrip("/")
        # `host` steers the generated APIs, `base_url` the raw api_request helper (facts §5).
        self.client = HubSpot(access_token="", host=base, base_url=base, retry=False)
        self._apis: dict[str, Any] = {}
        self._token: _Token | None = None
        self.last_headers: dict[str, str] = {}
        self.search_pacer = Pacer(settings.search_rate) if settings.search_rate else None
        self.paced_seconds = 0.0
        if settings.access_token:
            self._token = _Token(settings.access_token, None)
        elif not (settings.refresh_token and settings.client_id and settings.client_secret):
            raise ConfigError(
                "HubSpot: set HUBSPOT_ACCESS_TOKEN, or HUBSPOT_REFRESH_TOKEN with HUBSPOT_CLIENT_ID/SECRET"
            )

    def api(self, path: str) -> Any:
        """A generated API object by dotted path from the client, e.g. `crm.contacts.search_api`."""
        api = self._apis.get(path)
        if api is None:
            api = self.client
            for part in path.split("."):
                api = getattr(api, part)
            self._apis[path] = api
        return api

    def _refresh(self) -> None:
        s = self._settings
        if not (s.refresh_token and s.client_id and s.client_secret):
            raise FatalError("HubSpot token expired and no refresh token is configured", status=401)
        tokens = self.api("oauth.tokens_api")
        resp = self.policy.call(
            lambda: tokens.create(
                grant_type="refresh_token",
                client_id=s.client_id,
                client_secret=s.client_secret.reveal() if s.client_secret else None,
                refresh_token=s.refresh_token.reveal() if s.refresh_token else None,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
            what="hubspot oauth refresh",
        )
        self.calls += 1
        body = json.loads(resp.data)
        expires = float(body.get("expires_in") or 1800)
        self._token = _Token(Secret(body["access_token"]), time.monotonic() + expires - _EXPIRY_MARGIN)
        log.info("hubspot access token refreshed (expires in %.0fs)", expires)

    def _bearer(self) -> str:
        token = self._token
        if token is None or (token.expires_at is not None and time.monotonic() >= token.expires_at):
            self._refresh()
            token = self._token
        assert token is not None
        return token.value.reveal()

    def call_json(self, api_path: str, method: str, /, **kwargs: Any) -> Any:
        """Call a generated API method and return the decoded JSON body, skipping model building.

        The generated models cost ~100 µs per record to construct and we only want the dicts.
        A 401 EXPIRED_AUTHENTICATION is answered by one refresh and one replay. Searches are paced
        to `search_rate` per second (pacing.py says why).
        """
        api = self.api(api_path)
        fn = getattr(api, method)
        pacer = self.search_pacer if api_path.endswith(".search_api") else None

        def once() -> Any:
            api.api_client.configuration.access_token = self._bearer()
            if pacer is not None:  # every attempt: a retry is one more search in HubSpot's window
                self.paced_seconds += pacer.wait()
            self.calls += 1
            resp = fn(**kwargs, _preload_content=False, _request_timeout=self.timeout)
            if "X-HubSpot-RateLimit-Daily" in resp.headers:  # search answers carry none (facts §2)
                self.last_headers = dict(resp.headers)
            return _loads(resp.data) if resp.data else None

        def with_refresh() -> Any:
            try:
                return once()
            except Exception as exc:
                if getattr(exc, "status", None) != 401 or self._settings.refresh_token is None:
                    raise
                log.info("hubspot 401 on %s.%s: refreshing the token once", api_path, method)
                self._token = None
                return once()

        return self.policy.call(with_refresh, what=f"hubspot {api_path}.{method}")


def salesforce_login(settings: SalesforceSettings, session: requests.Session) -> tuple[Secret, str]:
    """POST {login_url}/services/oauth2/token with the best grant configured; (token, instance_url).

    Grants, in order: refresh_token (a connected app's offline access), client_credentials (an
    integration user), password (username + password + security token).
    """
    s = settings
    form: dict[str, str]
    if s.refresh_token and s.client_id:
        form = {"grant_type": "refresh_token", "refresh_token": s.refresh_token.reveal()}
    elif s.client_id and s.client_secret and not s.username:
        form = {"grant_type": "client_credentials"}
    elif s.username and s.password and s.client_id:
        secret = s.password.reveal() + (s.security_token.reveal() if s.security_token else "")
        form = {"grant_type": "password", "username": s.username, "password": secret}
    else:
        raise ConfigError(
            "Salesforce: set SALESFORCE_CLIENT_ID with SALESFORCE_REFRESH_TOKEN, SALESFORCE_CLIENT_SECRET, "
            "or SALESFORCE_USERNAME/PASSWORD"
        )
    form["client_id"] = s.client_id or ""
    if s.client_secret:
        form["client_secret"] = s.client_secret.reveal()
    url = f"{s.login_url.rstrip('/')}/services/oauth2/token"
    resp = session.post(url, data=form, timeout=30)
    if resp.status_code != 200:
        try:
            reason = resp.json().get("error", "")
        except ValueError:
            reason = ""
        raise ConfigError(f"Salesforce login refused at {url}: HTTP {resp.status_code} {reason}".strip())
    body = resp.json()
    return Secret(body["access_token"]), str(body.get("instance_url") or s.instance_url or "")


class _PinnedCA(requests.adapters.HTTPAdapter):
    """Verify against the configured CA bundle, whatever the environment says.

    `Session.verify` alone is not enough: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the
    environment override it for every request (env settings are merged over session settings),
    so a host with those variables set would reject the sandbox's, or a private, CA.
    """

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self._ca_bundle = ca_bundle

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["verify"] = self._ca_bundle
        return super().send(request, *args, **kwargs)


class SalesforceConnection:
    """A `simple_salesforce.Salesforce` on our own session and login, with a call counter."""

    def __init__(
        self, settings: SalesforceSettings, *, policy: RetryPolicy | None = None, timeout: float = 60.0
    ) -> None:
        self._settings = settings
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.calls = 0
        self.described: dict[str, tuple[str, ...]] = {}  # object -> field names, once per connection
        self.session = requests.Session()
        if settings.ca_bundle:
            self.session.mount("https://", _PinnedCA(settings.ca_bundle))
        token, instance_url = self.policy.call(
            lambda: salesforce_login(settings, self.session), what="salesforce login"
        )
        # object_pairs_hook=None: plain dicts, not OrderedDicts (for what orjson hands back).
        self.sf = _Salesforce(
            instance_url=instance_url,
            session_id=token.reveal(),
            session=self.session,
            version=settings.api_version,
            object_pairs_hook=None,
        )

    def _relogin(self) -> None:
        token, _ = salesforce_login(self._settings, self.session)
        self.sf.session_id = token.reveal()
        self.sf._generate_headers()  # the library's own refresh hook

    def call(self, fn: Callable[[Salesforce], T], *, what: str) -> T:
        """Run `fn(sf)` under the retry policy; one re-login and replay on INVALID_SESSION_ID."""

        def once() -> T:
            self.calls += 1
            return fn(self.sf)

        def with_relogin() -> T:
            try:
                return once()
            except SalesforceExpiredSession:
                log.info("salesforce session expired on %s: logging in again once", what)
                self._relogin()
                return once()

        return self.policy.call(with_relogin, what=f"salesforce {what}")

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, total) from the last Sforce-Limit-Info header, if any."""
        usage = self.sf.api_usage.get("api-usage")
        return (int(usage.used), int(usage.total)) if usage is not None else None


__all__ = ["HubSpotConnection", "SalesforceConnection", "salesforce_login"]
