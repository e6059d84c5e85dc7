"""`/healthz` and Prometheus `/metrics`, hand-written: a dozen series do not justify a dependency.

The registry is a plain in-process table of counters and gauges keyed by (name, labels); the
scheduler feeds it after every cycle and the HTTP thread only reads it under one lock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Labels = tuple[tuple[str, str], ...]

# name -> (type, help); the exposition is generated from this table.
SERIES: dict[str, tuple[str, str]] = {
    "revops_sync_records_pulled_total": ("counter", "Records pulled from a CRM, by stream."),
    "revops_sync_decisions_total": ("counter", "Decisions made by the rules engine, by kind and rule."),
    "revops_sync_writes_total": ("counter", "Writes sent to a CRM, by CRM and result."),
    "revops_sync_errors_total": ("counter", "Errors, by kind (retryable, fatal, quota, config, record)."),
    "revops_sync_api_calls_total": ("counter", "API calls made, by CRM."),
    "revops_sync_api_quota_remaining": ("gauge", "API calls the CRM says remain in the current window."),
    "revops_sync_cycles_total": ("counter", "Sync cycles finished, by job and outcome."),
    "revops_sync_cycle_duration_seconds": ("gauge", "Duration of the last cycle, by job."),
    "revops_sync_cycle_duration_seconds_sum": ("counter", "Total seconds spent in cycles, by job."),
    "revops_sync_last_success_timestamp_seconds": ("gauge", "Unix time of the last successful cycle."),
    "revops_sync_mapping_reloads_total": ("counter", "Mapping reloads, by outcome (ok, refused)."),
    "revops_sync_up": ("gauge", "1 while the daemon runs."),
}


def _labels(labels: Mapping[str, str] | None) -> Labels:
    return tuple(sorted((labels or {}).items()))


@dataclass
class Metrics:
    """Counters and gauges; thread-safe; renders the Prometheus text exposition format 0.0.4."""

    _values: dict[tuple[str, Labels], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._check(name, "counter")
        key = (name, _labels(labels))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self._check(name, "gauge")
        with self._lock:
            self._values[(name, _labels(labels))] = value

    def get(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get((name, _labels(labels)), 0.0)

    @staticmethod
    def _check(name: str, kind: str) -> None:
        if SERIES.get(name, ("", ""))[0] != kind:
            raise KeyError(f"{name} is not a declared {kind}")

    def render(self) -> str:
        with self._lock:
            snapshot = sorted(self._values.items())
        lines: list[str] = []
        for name, (kind, help_text) in SERIES.items():
            rows = [(labels, value) for (n, labels), value in snapshot if n == name]
            if not rows:
                continue
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            for labels, value in rows:
                text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class Health:
    """What /healthz reports: alive while the scheduler runs; degraded after `stale_after` without success."""

    started_at: float = field(default_factory=time.time)
    stale_after: float = 3600.0
    last_success: float | None = None
    last_error: str | None = None
    running: bool = True
    mapping_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self) -> tuple[int, dict[str, Any]]:
        now = time.time()
        reference = self.last_success or self.started_at
        stale = now - reference > self.stale_after
        ok = self.running and not stale
        body = {
            "status": "ok" if ok else ("stopping" if not self.running else "stale"),
            "last_success": self.last_success,
            "seconds_since_success": None if self.last_success is None else round(now - self.last_success, 1),
            "last_error": self.last_error,
            "mapping_version": self.mapping_version,
            **self.extra,
        }
        return (200 if ok else 503), body


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Probes every few seconds would drown the log."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            status, body = self.server.health_fn()
            self._send(status, json.dumps(body).encode(), "application/json")
        elif path == "/metrics":
            self._send(200, self.server.metrics.render().encode(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, status: int, payload: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, addr: tuple[str, int], metrics: Metrics, health_fn: Callable[[], tuple[int, dict[str, Any]]]
    ) -> None:
        super().__init__(addr, _Handler)
        self.metrics = metrics
        self.health_fn = health_fn


class HealthServer:
    """The endpoint in a daemon thread; port 0 picks a free one (see `.port`)."""

    def __init__(self, metrics: Metrics, health: Health, host: str = "127.0.0.1", port: int = 9464) -> None:
        self._server = _Server((host, port), metrics, health.status)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
