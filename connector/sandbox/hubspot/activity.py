"""Admin routes that simulate people working in HubSpot, and state dumps for assertions.

`POST /__sandbox/activity` takes a list of actions, applied in order:
  {"action": "edit", "type": "contacts", "id": "123", "properties": {...}}   (a UI edit: may move
      lifecyclestage backwards, as users can in the UI)
  {"action": "create", "type": "contacts", "properties": {...}}
  {"action": "merge", "primary": "123", "merged": "456"}
  {"action": "archive", "type": "deals", "id": "789"}
  {"action": "win" | "lose", "id": "789"}                                  (a deal)
  {"action": "score", "id": "123", "score": "85"}                           (a contact)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from connector.sandbox.base import ApiError, Request, Response
from connector.sandbox.hubspot.objects import render
from connector.sandbox.hubspot.schema import object_type
from connector.sandbox.hubspot.store import Store

if TYPE_CHECKING:
    from connector.sandbox.hubspot.app import HubSpotApp


def apply(store: Store, action: dict[str, Any]) -> dict[str, Any]:
    """Apply one action; returns {"action", "id"} of the record it touched."""
    verb = str(action.get("action", ""))
    kind = object_type(str(action.get("type", "contacts")))
    rid = int(action.get("id") or 0)
    if verb == "edit":
        rec = store.update(kind, rid, action.get("properties") or {}, force=True)
    elif verb == "create":
        rec = store.create(kind, action.get("properties") or {})
    elif verb == "merge":
        rec = store.merge(int(action["primary"]), int(action["merged"]))
    elif verb == "archive":
        if not store.archive(kind, rid):
            raise ApiError(404, {"message": f"no live {kind} {rid} to archive"})
        return {"action": verb, "id": str(rid)}
    elif verb in {"win", "lose"}:
        rec = store.update("deals", rid, {"dealstage": "closedwon" if verb == "win" else "closedlost"})
    elif verb == "score":
        rec = store.update("contacts", rid, {"hubspotscore": action.get("score")})
    else:
        raise ApiError(400, {"message": f"unknown activity action {verb!r}"})
    return {"action": verb, "id": str(rec.id)}


class ActivityRoutes:
    def __init__(self, app: HubSpotApp) -> None:
        self.app = app
        app.add("POST", r"/__sandbox/activity", self.activity)
        app.add("GET", r"/__sandbox/state/(?P<type>[\w-]+)", self.state)
        app.add("POST", r"/__sandbox/tokens/expire", self.expire)
        app.add("GET", r"/__sandbox/keys", self.keys)

    def activity(self, req: Request, m: re.Match[str]) -> Response:
        actions = req.json() or []
        if not isinstance(actions, list):
            raise ApiError(400, {"message": "expected a JSON list of actions"})
        try:
            done = [apply(self.app.store, a) for a in actions]
        except (KeyError, ValueError, TypeError) as exc:
            raise ApiError(400, {"message": f"bad activity action: {exc!r}"}) from exc
        return Response(200, {"results": done})

    def state(self, req: Request, m: re.Match[str]) -> Response:
        try:
            kind = object_type(m["type"])
        except KeyError as exc:
            raise ApiError(404, {"message": f"Unknown object type {m['type']}"}) from exc
        store = self.app.store
        with store.lock:
            recs = [
                render(store, r, list(r.props), ["contacts", "deals", "tasks"])
                for r in store.records[kind].values()
            ]
        return Response(200, {"results": recs, "merged": {str(k): str(v) for k, v in store.merged.items()}})

    def expire(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json() or {}
        token = self.app.tokens.expire(body.get("token"), float(body.get("ago", 75)))
        return Response(200, {"expired": token[:8] + "..."})

    def keys(self, req: Request, m: re.Match[str]) -> Response:
        """Seed key -> HubSpot id, so tests can find the record a seeded person became."""
        return Response(200, {k: str(v) for k, v in self.app.store.keys.items()})
