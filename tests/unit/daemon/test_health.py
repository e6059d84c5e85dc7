"""/healthz and /metrics over a real socket, in the Prometheus text format."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from connector.daemon.health import Health, HealthServer, Metrics
from connector.daemon.scheduler import CycleFigures, record_figures


@pytest.fixture
def served() -> Iterator[tuple[Metrics, Health, HealthServer]]:
    metrics, health = Metrics(), Health(stale_after=60)
    server = HealthServer(metrics, health, port=0).start()
    yield metrics, health, server
    server.stop()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_exposition(served: tuple[Metrics, Health, HealthServer]) -> None:
    metrics, _health, server = served
    figures = CycleFigures(
        records_pulled={"hubspot.contacts": 120, "salesforce.leads": 80},
        decisions={("transition", "mql.score"): 7},
        writes={("hubspot", "ok"): 7, ("salesforce", "dead"): 1},
        api_calls={"hubspot": 4},
        quota_remaining={"salesforce": 14_500},
    )
    record_figures(metrics, figures)
    record_figures(metrics, figures)
    status, text = _get(server.url + "/metrics")
    assert status == 200
    assert 'revops_sync_records_pulled_total{stream="hubspot.contacts"} 240' in text
    assert 'revops_sync_decisions_total{kind="transition",rule="mql.score"} 14' in text
    assert 'revops_sync_writes_total{crm="salesforce",result="dead"} 2' in text
    assert 'revops_sync_api_quota_remaining{crm="salesforce"} 14500' in text
    assert "# TYPE revops_sync_api_calls_total counter" in text


@pytest.mark.parametrize(
    ("running", "age", "status", "word"),
    [(True, 0, 200, "ok"), (True, 120, 503, "stale"), (False, 0, 503, "stopping")],
)
def test_healthz(
    served: tuple[Metrics, Health, HealthServer], running: bool, age: float, status: int, word: str
) -> None:
    _metrics, health, server = served
    health.running = running
    health.last_success = time.time() - age
    code, body = _get(server.url + "/healthz")
    assert code == status
    assert json.loads(body)["status"] == word


def test_undeclared_series_is_refused() -> None:
    with pytest.raises(KeyError):
        Metrics().inc("revops_sync_typo_total")
    with pytest.raises(KeyError):
        Metrics().set("revops_sync_records_pulled_total", 1)  # a counter, not a gauge
