"""Pytest plugin: HubSpot sandboxes on real sockets, reached through the unmodified hubspot client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from hubspot import HubSpot

from connector.sandbox.base import RunningServer, serve
from connector.sandbox.hubspot import HubSpotApp, HubSpotLimits, make_app
from connector.sandbox.seed import generate


@dataclass
class HubSpotSandbox:
    server: RunningServer
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def app(self) -> HubSpotApp:
        app = self.server.app
        assert isinstance(app, HubSpotApp)
        return app

    def client(self, token: str | None = None) -> Any:
        return HubSpot(access_token=token or self.token, host=self.url)

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        resp = requests.request(method, f"{self.url}/__sandbox/{path}", json=json, timeout=10)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def ledger(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.admin("GET", "ledger")
        return result


SandboxFactory = Callable[..., HubSpotSandbox]


@pytest.fixture(scope="session")
def _hubspot_shared() -> Iterator[HubSpotSandbox]:
    app = make_app(generate(300, seed=7), limits=HubSpotLimits(enforce=False))
    server = serve(app)
    yield HubSpotSandbox(server, "pat-sandbox")
    server.stop()


@pytest.fixture
def hubspot_sandbox(_hubspot_shared: HubSpotSandbox) -> HubSpotSandbox:
    """A 300-person world, reset before each test; rate limits off (tests that want them use the factory)."""
    _hubspot_shared.app.limits.enforce = False
    _hubspot_shared.admin("POST", "reset")
    return _hubspot_shared


@pytest.fixture
def hubspot_sandbox_factory() -> Iterator[SandboxFactory]:
    """Build sandboxes of a chosen size and limits: `factory(people=50, limits=..., index_delay=...)`."""
    started: list[RunningServer] = []

    def build(people: int = 50, seed: int = 7, **kwargs: Any) -> HubSpotSandbox:
        world = generate(people, seed=seed) if people else None
        kwargs.setdefault("limits", HubSpotLimits(enforce=False))
        server = serve(make_app(world, **kwargs))
        started.append(server)
        return HubSpotSandbox(server, kwargs.get("token", "pat-sandbox"))

    yield build
    for server in started:
        server.stop()
