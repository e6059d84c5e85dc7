"""HubSpot sandbox throughput through the unmodified hubspot-api-client over a real socket.

Figures: requests/s for 100-record list pages and 200-record search pages, with a 20,000-person
world (about 14,000 contacts). The real API allows 19 req/s (190 per 10 s) and 5 searches/s, so
the sandbox must be far faster than that not to be the bottleneck of any connector benchmark.
The server runs in its own process (as it would beside a connector), and each figure is given
twice: with the client's model deserialization (what a connector pays) and with
`_preload_content=False` (the client's raw mode: what the sandbox and transport cost).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest

from bench._report import emit, peak_rss_mb
from connector.sandbox.base import serve
from connector.sandbox.hubspot import HubSpotLimits, make_app
from connector.sandbox.seed import generate

PEOPLE = 20_000
SECONDS = 3.0


GROUPS = [{"filters": [{"propertyName": "lifecyclestage", "operator": "IN",
                        "values": ["lead", "marketingqualifiedlead", "salesqualifiedlead"]}]}]  # fmt: skip


def _next(page: Any) -> str | None:
    if isinstance(page, dict):
        return page.get("paging", {}).get("next", {}).get("after")
    return page.paging.next.after if page.paging else None


def _list(client: HubSpot, after: str | None, **kw: Any) -> Any:
    props = ["email", "lifecyclestage", "hubspotscore"]
    return client.crm.contacts.basic_api.get_page(limit=100, after=after, properties=props, **kw)


def _search(client: HubSpot, after: str | None, **kw: Any) -> Any:
    body = PublicObjectSearchRequest(
        filter_groups=GROUPS,
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        properties=["email", "lifecyclestage"],
        limit=200,
        after=after,
    )
    return client.crm.contacts.search_api.do_search(public_object_search_request=body, **kw)


def _rate(client: HubSpot, call: Callable[..., Any], *, raw: bool) -> float:
    calls = 0
    after = None
    deadline = time.perf_counter() + SECONDS
    while time.perf_counter() < deadline:
        page = json.loads(call(client, after, _preload_content=False).data) if raw else call(client, after)
        calls += 1
        after = _next(page)
        if after is not None and int(after) >= 9_800:  # wrap before search's 10,000-result cap
            after = None
    return calls / SECONDS


def _serve_forever(ready: Any) -> None:
    started = time.perf_counter()
    world = generate(PEOPLE)
    generated = time.perf_counter() - started
    server = serve(make_app(world, limits=HubSpotLimits(enforce=False)))
    ready.put((server.url, generated, time.perf_counter() - started - generated))
    while True:
        time.sleep(3600)


def main() -> None:
    ready: Any = mp.Queue()
    proc = mp.Process(target=_serve_forever, args=(ready,), daemon=True)
    proc.start()
    url, generated, loaded = ready.get(timeout=120)
    emit("sandbox_hubspot", f"seed generate({PEOPLE:,})", generated, "s")
    emit("sandbox_hubspot", "load world into store", loaded, "s")
    client = HubSpot(access_token="pat-sandbox", host=url)
    try:
        for name, call in (("list 100-record pages", _list), ("search 200-record pages", _search)):
            for raw in (False, True):
                mode = "raw body" if raw else "client models"
                emit("sandbox_hubspot", f"{name} ({mode})", _rate(client, call, raw=raw), "req/s",
                     target="far above 19")  # fmt: skip
    finally:
        proc.terminate()
        proc.join()
    emit("sandbox_hubspot", "peak RSS (client process)", peak_rss_mb(), "MB")


if __name__ == "__main__":
    main()
