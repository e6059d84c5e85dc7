"""The HTTP machinery both CRM sandboxes share: routing, call ledger, fault injection, admin API.

The sandboxes are real servers on 127.0.0.1 so that the unmodified client libraries talk to them
over real sockets. Each CRM subclasses `SandboxApp`, registers its routes, and says how its
errors look; everything a test needs to observe or disturb lives under `/__sandbox/`.
"""

from __future__ import annotations

import json
import random
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        """The body as JSON; a malformed body is the client's error, reported as 400."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, {"message": f"Invalid JSON body: {exc}"}) from exc

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass(slots=True)
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    records_in: int = 0
    records_out: int = 0


class ApiError(Exception):
    """Raised by a handler to answer with a CRM-shaped error; the app wraps `body` in its own format."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


Handler = Callable[[Request, "re.Match[str]"], Response]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


@dataclass(slots=True)
class LedgerEntry:
    method: str
    path: str
    status: int
    records_in: int
    records_out: int
    ms: float
    at: float
    fault: str | None = None


@dataclass(slots=True)
class FaultRule:
    """Disturb matching calls: `probability` of answering `status`, or of stalling, plus latency.

    `path` is a regex searched in the request path; `limit` caps how many times the rule fires.
    """

    path: str = ".*"
    method: str | None = None
    probability: float = 1.0
    status: int | None = None  # 429, 500, 502, 503
    stall_seconds: float = 0.0  # hold the response this long (past the client timeout)
    latency_ms: float = 0.0
    retry_after: float | None = None  # sent as Retry-After with an injected 429/503
    limit: int | None = None
    fired: int = 0

    def matches(self, req: Request) -> bool:
        if self.method and self.method.upper() != req.method:
            return False
        if self.limit is not None and self.fired >= self.limit:
            return False
        return re.search(self.path, req.path) is not None


class SandboxApp:
    """Routes plus the admin API; subclasses add CRM routes in `__init__` and override the hooks."""

    name = "sandbox"

    def __init__(self, seed: int = 0) -> None:
        self.routes: list[Route] = []
        self.ledger: list[LedgerEntry] = []
        self.faults: list[FaultRule] = []
        self.lock = threading.RLock()
        self._fault_rng = random.Random(seed)
        self.add("GET", r"/__sandbox/ledger", self._get_ledger)
        self.add("DELETE", r"/__sandbox/ledger", self._clear_ledger)
        self.add("GET", r"/__sandbox/faults", self._get_faults)
        self.add("POST", r"/__sandbox/faults", self._set_faults)
        self.add("DELETE", r"/__sandbox/faults", self._clear_faults)
        self.add("POST", r"/__sandbox/reset", self._reset)

    # ---- hooks for the CRM subclasses -------------------------------------------------
    def error_body(self, status: int, body: Any) -> Any:
        """Wrap a handler's or an injected error in the CRM's own error format."""
        return body

    def reset(self) -> None:
        """Return to the freshly seeded state."""

    def before_request(self, req: Request) -> None:
        """Auth and rate limiting; raise ApiError to refuse."""

    def decorate(self, req: Request, resp: Response) -> None:
        """Add headers every answer carries (rate-limit, limit-info)."""

    # ---- routing --------------------------------------------------------------------------
    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append(Route(method, re.compile(pattern + r"/?$"), handler))

    def dispatch(self, req: Request) -> Response:
        started = time.perf_counter()
        fault = None
        try:
            admin = req.path.startswith("/__sandbox/")
            fault_resp = None if admin else self._inject(req)
            if fault_resp is not None:
                fault = f"injected {fault_resp.status}"
                resp = fault_resp
            else:
                resp = self._route(req, admin=admin)
        except ApiError as exc:
            resp = Response(exc.status, self.error_body(exc.status, exc.body), dict(exc.headers))
        if not req.path.startswith("/__sandbox/"):
            self.decorate(req, resp)
            with self.lock:
                self.ledger.append(
                    LedgerEntry(
                        req.method,
                        req.path,
                        resp.status,
                        resp.records_in,
                        resp.records_out,
                        round((time.perf_counter() - started) * 1000, 3),
                        time.time(),
                        fault,
                    )
                )
        return resp

    def _route(self, req: Request, *, admin: bool) -> Response:
        allowed = False
        for route in self.routes:
            match = route.pattern.match(req.path)
            if match is None:
                continue
            allowed = True
            if route.method == req.method:
                if not admin:
                    self.before_request(req)
                return route.handler(req, match)
        if allowed:
            raise ApiError(405, {"message": f"Method {req.method} not allowed on {req.path}"})
        raise ApiError(404, {"message": f"No route for {req.method} {req.path}"})

    def _inject(self, req: Request) -> Response | None:
        with self.lock:
            rules = [r for r in self.faults if r.matches(req)]
            chosen = None
            for rule in rules:
                if self._fault_rng.random() < rule.probability:
                    rule.fired += 1
                    chosen = rule
                    break
        if chosen is None:
            return None
        if chosen.latency_ms:
            time.sleep(chosen.latency_ms / 1000)
        if chosen.stall_seconds:
            time.sleep(chosen.stall_seconds)
        if chosen.status is None:
            return None
        headers = {}
        if chosen.retry_after is not None:
            headers["Retry-After"] = f"{chosen.retry_after:g}"
        body = self.error_body(chosen.status, {"message": HTTPStatus(chosen.status).phrase})
        return Response(chosen.status, body, headers)

    # ---- admin API ------------------------------------------------------------------------
    def _get_ledger(self, req: Request, _m: re.Match[str]) -> Response:
        with self.lock:
            return Response(200, [asdict(e) for e in self.ledger])

    def _clear_ledger(self, req: Request, _m: re.Match[str]) -> Response:
        with self.lock:
            self.ledger.clear()
        return Response(204)

    def _get_faults(self, req: Request, _m: re.Match[str]) -> Response:
        with self.lock:
            return Response(200, [asdict(f) for f in self.faults])

    def _set_faults(self, req: Request, _m: re.Match[str]) -> Response:
        payload = req.json() or {}
        rules = payload.get("rules", []) if isinstance(payload, dict) else payload
        try:
            parsed = [FaultRule(**{k: v for k, v in r.items() if k != "fired"}) for r in rules]
        except TypeError as exc:
            raise ApiError(400, {"message": f"bad fault rule: {exc}"}) from exc
        with self.lock:
            self.faults = parsed
            if isinstance(payload, dict) and "seed" in payload:
                self._fault_rng = random.Random(payload["seed"])
        return Response(200, [asdict(f) for f in parsed])

    def _clear_faults(self, req: Request, _m: re.Match[str]) -> Response:
        with self.lock:
            self.faults = []
        return Response(204)

    def _reset(self, req: Request, _m: re.Match[str]) -> Response:
        with self.lock:
            self.reset()
            self.ledger.clear()
            self.faults = []
        return Response(204)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait for the
    # peer's delayed ACK (~40 ms) on every response, capping a sandbox at ~25 requests/s.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib's per-request stderr line; the ledger is the log."""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        resp = self.server.app.dispatch(req)
        if isinstance(resp.body, bytes):
            payload = resp.body
            ctype = resp.headers.pop("Content-Type", "application/octet-stream")
        elif resp.body is None:
            payload = b""
            ctype = "application/json"
        else:
            payload = json.dumps(resp.body, separators=(",", ":")).encode()
            ctype = "application/json;charset=UTF-8"
        self.send_response(resp.status)
        if resp.status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if resp.status != 204 and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 - stdlib naming


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], app: SandboxApp) -> None:
        super().__init__(addr, _Handler)
        self.app = app
        self.ssl_context: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        """Wrap without handshaking: a slow or failing TLS client must not block the accept loop."""
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake here, in the per-connection thread; a client that distrusts the CA just leaves."""
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(10)
            try:
                request.do_handshake()
            except (OSError, ssl.SSLError):
                return
            request.settimeout(None)
        super().finish_request(request, client_address)


@dataclass
class RunningServer:
    """A sandbox listening on a real socket; `stop()` closes it."""

    app: SandboxApp
    url: str
    port: int
    server: _Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(
    app: SandboxApp, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
) -> RunningServer:
    """Start `app` in a background thread; port 0 picks a free one."""
    server = _Server((host, port), app)
    server.ssl_context = ssl_context
    actual = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name=f"{app.name}:{actual}", daemon=True
    )
    thread.start()
    scheme = "https" if ssl_context else "http"
    return RunningServer(app, f"{scheme}://{host}:{actual}", int(actual), server, thread)
