"""The HubSpot CRM v3 sandbox: wires the store, routes, auth, rate limits and HubSpot's error shape."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from connector.sandbox.base import Request, Response, SandboxApp
from connector.sandbox.hubspot.activity import ActivityRoutes
from connector.sandbox.hubspot.assoc import AssociationRoutes
from connector.sandbox.hubspot.batch import BatchRoutes
from connector.sandbox.hubspot.limits import HubSpotLimits, Limiter, OAuthClient, Tokens
from connector.sandbox.hubspot.loader import load
from connector.sandbox.hubspot.objects import ObjectRoutes
from connector.sandbox.hubspot.store import Store
from connector.sandbox.world import World

DEFAULT_CATEGORY = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
}
SEARCH_PATH = re.compile(r"/crm/v3/objects/[^/]+/search/?$")


class HubSpotApp(SandboxApp):
    name = "hubspot"

    def __init__(
        self,
        world: World | None,
        *,
        token: str,
        seed: int,
        index_delay: float,
        limits: HubSpotLimits,
        oauth: OAuthClient | None = None,
    ) -> None:
        super().__init__(seed)
        self.world = world
        self.index_delay = index_delay
        self.limits = limits
        self.limiter = Limiter(limits)
        self.tokens = Tokens(token, oauth or OAuthClient())
        self.store = self._fresh_store()
        ObjectRoutes(self)
        BatchRoutes(self)
        AssociationRoutes(self)
        ActivityRoutes(self)
        self.add("POST", r"/oauth/v1/token", self._oauth_token)

    def _fresh_store(self) -> Store:
        store = Store(self.index_delay)
        if self.world is not None:
            load(store, self.world)
        return store

    # ---- hooks ----------------------------------------------------------------------------
    def reset(self) -> None:
        self.store = self._fresh_store()
        self.limiter.reset()

    def error_body(self, status: int, body: Any) -> Any:
        """HubSpot's error envelope; rate-limit bodies (errorType/policyName) pass through as built."""
        data = dict(body) if isinstance(body, dict) else {"message": str(body)}
        if status == 429 and "policyName" not in data:
            data.update(
                errorType="RATE_LIMIT",
                policyName="TEN_SECONDLY_ROLLING",
                message="You have reached your ten_secondly_rolling limit.",
            )
        out: dict[str, Any] = {
            "status": "error",
            "message": data.pop("message", "error"),
            "correlationId": data.pop("correlationId", str(uuid.uuid4())),
        }
        if status != 429:
            out["category"] = data.pop("category", DEFAULT_CATEGORY.get(status, "INTERNAL_ERROR"))
        data.pop("status", None)
        out.update(data)
        return out

    def before_request(self, req: Request) -> None:
        if req.path.startswith("/oauth/"):
            return
        token = self.tokens.check(req.headers.get("authorization"))
        self.limiter.check(token, search=SEARCH_PATH.search(req.path) is not None)

    def decorate(self, req: Request, resp: Response) -> None:
        resp.headers.setdefault("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
        if SEARCH_PATH.search(req.path) or req.path.startswith("/oauth/"):
            return  # search answers carry no rate-limit headers on the real API
        token = (req.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        resp.headers.update(self.limiter.headers(token))

    def _oauth_token(self, req: Request, m: re.Match[str]) -> Response:
        form = {k: v[-1] for k, v in parse_qs(req.body.decode(errors="replace")).items()}
        return Response(200, self.tokens.refresh(form))


def make_app(
    world: World | None = None,
    *,
    token: str = "pat-sandbox",  # noqa: S107 - the sandbox's fixed private-app token
    seed: int = 0,
    index_delay: float = 0.0,
    limits: HubSpotLimits | None = None,
) -> HubSpotApp:
    """A HubSpot sandbox loaded from `world` (empty when None); serve it with `base.serve`."""
    return HubSpotApp(
        world, token=token, seed=seed, index_delay=index_delay, limits=limits or HubSpotLimits()
    )
