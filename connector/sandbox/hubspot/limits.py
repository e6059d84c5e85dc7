"""HubSpot's rate limits and token auth, per token: a 10-second rolling burst, search per second, daily.

The numbers default to a Professional/Enterprise private app (190 / 10 s, 5 searches/s) with an
Enterprise daily allowance; tests shrink them to hit each policy quickly or switch them off.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from connector.sandbox.base import ApiError

BURST_MESSAGE = "You have reached your ten_secondly_rolling limit."
SEARCH_MESSAGE = "You have reached your secondly limit."
DAILY_MESSAGE = "You have reached your daily limit."


@dataclass(slots=True)
class HubSpotLimits:
    burst: int = 190
    burst_window: float = 10.0
    search_per_second: int = 5
    daily: int = 1_000_000
    enforce: bool = True


def rate_limited(message: str, policy: str) -> ApiError:
    body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
    }
    return ApiError(429, body)


@dataclass(slots=True)
class _Usage:
    burst: deque[float] = field(default_factory=deque)
    search: deque[float] = field(default_factory=deque)
    daily: int = 0


class Limiter:
    """Counts accepted calls; a refused call does not count (HubSpot counts only what it serves)."""

    def __init__(self, limits: HubSpotLimits) -> None:
        self.limits = limits
        self._usage: dict[str, _Usage] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()

    def check(self, account: str, *, search: bool) -> None:
        lim = self.limits
        now = time.monotonic()
        with self._lock:
            use = self._usage.setdefault(account, _Usage())
            while use.burst and use.burst[0] <= now - lim.burst_window:
                use.burst.popleft()
            while use.search and use.search[0] <= now - 1.0:
                use.search.popleft()
            if not lim.enforce:
                use.daily += 1
                return
            if use.daily >= lim.daily:
                raise rate_limited(DAILY_MESSAGE, "DAILY")
            if search:
                if len(use.search) >= lim.search_per_second:
                    raise rate_limited(SEARCH_MESSAGE, "SECONDLY")
                use.search.append(now)
            else:
                if len(use.burst) >= lim.burst:
                    raise rate_limited(BURST_MESSAGE, "TEN_SECONDLY_ROLLING")
                use.burst.append(now)
            use.daily += 1

    def headers(self, account: str) -> dict[str, str]:
        lim = self.limits
        with self._lock:
            use = self._usage.get(account, _Usage())
            return {
                "X-HubSpot-RateLimit-Max": str(lim.burst),
                "X-HubSpot-RateLimit-Remaining": str(max(0, lim.burst - len(use.burst))),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(lim.burst_window * 1000)),
                "X-HubSpot-RateLimit-Daily": str(lim.daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, lim.daily - use.daily)),
            }


@dataclass(slots=True)
class OAuthClient:
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"  # noqa: S105 - a fixture credential for a local fake
    refresh_token: str = "sandbox-refresh"  # noqa: S105
    lifetime: int = 1800


class Tokens:
    """Valid access tokens and their expiry (None = a private-app token that never expires)."""

    def __init__(self, static: str, oauth: OAuthClient) -> None:
        self.static = static
        self.oauth = oauth
        self.expiry: dict[str, float | None] = {static: None}
        self.latest = static
        self._lock = threading.Lock()

    def check(self, header: str | None) -> str:
        """The token from `Authorization: Bearer`, or a 401 in HubSpot's two flavours."""
        token = (header or "").removeprefix("Bearer ").strip()
        with self._lock:
            if token not in self.expiry:
                raise ApiError(
                    401,
                    {
                        "category": "INVALID_AUTHENTICATION",
                        "message": "Authentication credentials not found. This API supports OAuth 2.0 "
                        "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    },
                )
            expires = self.expiry[token]
        if expires is not None and expires <= time.time():
            ago = int(time.time() - expires)
            raise ApiError(
                401,
                {
                    "category": "EXPIRED_AUTHENTICATION",
                    "message": f"The OAuth token used to make this call expired {ago} second(s) ago.",
                    "context": {
                        "expire time": [time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(expires))]
                    },
                },
            )
        return token

    def refresh(self, form: dict[str, str]) -> dict[str, Any]:
        ok = (
            form.get("grant_type") == "refresh_token"
            and form.get("client_id") == self.oauth.client_id
            and form.get("client_secret") == self.oauth.client_secret
            and form.get("refresh_token") == self.oauth.refresh_token
        )
        if not ok:
            raise ApiError(
                400, {"category": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}
            )
        token = f"pat-oauth-{secrets.token_hex(8)}"
        with self._lock:
            self.expiry[token] = time.time() + self.oauth.lifetime
            self.latest = token
        return {
            "token_type": "bearer",
            "access_token": token,
            "refresh_token": self.oauth.refresh_token,
            "expires_in": self.oauth.lifetime,
        }

    def expire(self, token: str | None, ago: float) -> str:
        with self._lock:
            target = token or self.latest
            if target not in self.expiry:
                raise ApiError(404, {"message": "unknown token"})
            self.expiry[target] = time.time() - ago
            return target
