"""HubSpot sandbox throughput through the unmodified hubspot-api-client over a real socket.

Figures: requests/s for 100-record list pages and 200-record search pages, with a 20,000-person
world (about 14,000 contacts). The real API allows 19 req/s (190 per 10 s) and 5 searches/s, so
the sandbox must be far faster than that not to be the bottleneck of any connector benchmark.
The server runs in its own process (as it would beside a connector), and each figure is given
twice: with the client's model deserialization (what a connector pays) and with
`_preload_content=False` (the client's raw mode: what the sandbox and transport cost).

The reader figures time the sandbox alone (in process, no socket) on 50,000 contacts, paged exactly
as connector/crm/hubspot.py pages: a fixed cursor window re-anchored on `hs_object_id > last id`,
so every page is a new filter. Before search planning each such page rescanned the store
(about 1.4 s a page, 350 s for the walk); now only the first page of a window scans.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest

from bench._report import emit, peak_rss_mb
from connector.crm.hubspot import SEARCH_PAGE, search_body
from connector.crm.protocol import Window
from connector.crm.streams import streams_for
from connector.model import Crm
from connector.sandbox.base import serve
from connector.sandbox.hubspot import HubSpotLimits, make_app, search
from connector.sandbox.hubspot.store import Store
from connector.sandbox.seed import generate

PEOPLE = 20_000
SECONDS = 3.0
READER_CONTACTS = 50_000
CONTACTS = next(s for s in streams_for(Crm.HUBSPOT) if s.name == "hubspot.contacts")


GROUPS = [{"filters": [{"propertyName": "lifecyclestage", "operator": "IN",
                        "values": ["lead", "marketingqualifiedlead", "salesqualifiedlead"]}]}]  # fmt: skip


def _next(page: Any) -> str | None:
    if isinstance(page, dict):  # a raw JSON page
        after: str | None = page.get("paging", {}).get("next", {}).get("after")
        return after
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


def _reader_store() -> Store:
    """50,000 contacts, three per second of modification time (ties, as after a bulk import)."""
    store = Store()
    start = datetime.now(UTC) - timedelta(days=30)
    for i in range(READER_CONTACTS):
        props = {"email": f"r{i}@bench.example", "lifecyclestage": "lead"}
        store.create("contacts", props, at=start + timedelta(seconds=i // 3))
    return store


def _reader_walk(store: Store, window: Window) -> list[float]:
    """Latency (s) of each page of one walk over `window`, built by the connector's own search_body."""
    after_id: str | None = None
    took: list[float] = []
    while True:
        body = search_body(CONTACTS, window, after_id, SEARCH_PAGE)
        started = time.perf_counter()
        out, count = search.run(store, "contacts", body)
        took.append(time.perf_counter() - started)
        if not count or "paging" not in out:
            return took
        after_id = str(out["results"][-1]["id"])


def _reader_figures() -> None:
    store = _reader_store()
    hi = datetime.now(UTC)
    cold = _reader_walk(store, Window(lo=None, hi=hi))
    warm = _reader_walk(store, Window(lo=None, hi=hi + timedelta(milliseconds=1)))
    recent = _reader_walk(store, Window(lo=hi - timedelta(days=1), hi=hi + timedelta(milliseconds=2)))
    name = f"reader search ({READER_CONTACTS // 1000}k contacts)"
    emit("sandbox_hubspot", f"{name}: median page", statistics.median(cold[1:]) * 1000, "ms",
         target="a few ms", note="was ~1,400 ms (a full rescan per page)")  # fmt: skip
    emit("sandbox_hubspot", f"{name}: first page, cold", cold[0] * 1000, "ms")
    emit("sandbox_hubspot", f"{name}: first page, new window", warm[0] * 1000, "ms")
    emit("sandbox_hubspot", f"{name}: first page, 1-day window", recent[0] * 1000, "ms")
    emit("sandbox_hubspot", f"{name}: full walk, {len(cold)} pages", sum(cold), "s",
         target="far below the client's time", note="was ~350 s")  # fmt: skip


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
    _reader_figures()
    emit("sandbox_hubspot", "peak RSS (client process)", peak_rss_mb(), "MB")


if __name__ == "__main__":
    main()
