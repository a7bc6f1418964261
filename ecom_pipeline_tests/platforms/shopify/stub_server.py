"""A small Shopify GraphQL stand-in for client tests: scripted answers, a real cost bucket, tokens, bulk files.

Why not the sandbox emulator: it is written concurrently, and these tests pin the client's behaviour against
exactly the documented shapes (``platform-samples/shopify``): the throttle body of
``graphql_cost_and_throttle_synthetic.json``, the 401 body of ``error_examples.json``, the bulk JSONL of
``graphql_bulk_operation_result_example.jsonl``. The bucket follows Shopify's rule (a query needs its requested
cost available, is charged its actual cost, the bucket refills at ``restore`` points/s) on an injectable clock
shared with the client, so pacing tests run instantly and deterministically.

Handlers are matched on a marker string contained in the GraphQL document (e.g. ``"products("``), in the order
added; a handler returns ``data`` (wrapped with cost extensions) or ``(status, body)`` for an HTTP-level answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ecom_pipeline_tests.paths import fixtures_dir

FIXTURES = fixtures_dir() / "platform-samples" / "shopify"
UNAUTHORIZED = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


class FakeClock:
    """Time that only moves when someone sleeps: shared by the client (sleep/clock) and the stub's bucket."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)


Handler = Callable[[dict[str, Any], dict[str, str]], Any]


@dataclass
class Route:
    marker: str
    handler: Handler
    requested: float = 10.0
    actual: float | None = None


@dataclass
class GraphQLStub:
    """State of the stub: routes, bucket, valid tokens, served files and a log of every request."""

    clock: FakeClock = field(default_factory=FakeClock)
    maximum: float = 2000.0
    restore: float = 100.0
    enforce_bucket: bool = True
    tokens: set[str] = field(default_factory=lambda: {"shpat_good"})
    routes: list[Route] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    throttled: int = 0
    token_grants: int = 0
    token_lifetime_s: int = 86399
    available: float | None = None
    last: float | None = None

    def on(self, marker: str, handler: Handler | Any, requested: float = 10.0, actual: float | None = None) -> None:
        fn = handler if callable(handler) else (lambda _v, _h, value=handler: value)
        self.routes.append(Route(marker, fn, requested, actual))

    def _bucket(self) -> float:
        now = self.clock.time()
        if self.available is None:
            self.available = self.maximum
        elif self.last is not None:
            self.available = min(self.maximum, self.available + (now - self.last) * self.restore)
        self.last = now
        return self.available

    def cost(self, requested: float, actual: float | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": round(self.available or 0.0, 3),
                "restoreRate": self.restore,
            },
        }

    def graphql(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if headers.get("x-shopify-access-token") not in self.tokens:
            return 401, UNAUTHORIZED
        query = str(body.get("query", ""))
        variables = body.get("variables") or {}
        for route in self.routes:
            if route.marker in query:
                break
        else:
            return 200, {"errors": [{"message": f"no stub route for {query[:60]!r}"}]}
        available = self._bucket()
        if self.enforce_bucket and route.requested > available:
            self.throttled += 1
            return 200, {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {"cost": self.cost(route.requested, None)},
            }
        result = route.handler(variables, headers)
        if isinstance(result, tuple):
            return result
        actual = route.actual if route.actual is not None else route.requested
        self.available = available - actual
        if isinstance(result, dict) and ("errors" in result or "data" in result):
            result.setdefault("extensions", {"cost": self.cost(route.requested, actual)})
            return 200, result
        return 200, {"data": result, "extensions": {"cost": self.cost(route.requested, actual)}}

    def token(self, form: dict[str, str]) -> tuple[int, Any]:
        if form.get("client_secret") != "cs_secret":
            return 400, {"error": "invalid_client", "error_description": "Client authentication failed"}
        self.token_grants += 1
        token = f"shpat_cc_{self.token_grants}"
        self.tokens.add(token)
        if form.get("grant_type") == "client_credentials":
            return 200, {"access_token": token, "scope": "read_products", "expires_in": self.token_lifetime_s}
        return 200, {"access_token": token, "scope": "read_products"}


class _Handler(BaseHTTPRequestHandler):
    stub: GraphQLStub

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path.endswith("/admin/oauth/access_token"):
            from urllib.parse import parse_qsl

            form = dict(parse_qsl(raw.decode()))
            self.stub.requests.append({"path": self.path, "form": form, "headers": headers})
            self._send(*self.stub.token(form))
            return
        body = json.loads(raw or b"{}")
        self.stub.requests.append({"path": self.path, "body": body, "headers": headers})
        self._send(*self.stub.graphql(body, headers))

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.stub.requests.append({"path": self.path, "headers": headers})
        name = self.path.split("?", 1)[0].rsplit("/", 1)[-1]  # a signed storage URL's query is not the file's name
        if name in self.stub.files:
            self._send(200, self.stub.files[name], "application/jsonl")
        else:
            self._send(404, {"errors": "Not Found"})


class StubServer:
    """Serves a :class:`GraphQLStub` on 127.0.0.1 in a thread (``with StubServer(stub) as server: server.url``)."""

    def __init__(self, stub: GraphQLStub) -> None:
        handler = type("BoundHandler", (_Handler,), {"stub": stub})
        self.stub = stub
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/test-shop"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def file_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/files/{name}"


def graphql_requests(stub: GraphQLStub, marker: str = "") -> list[dict[str, Any]]:
    return [r for r in stub.requests if "body" in r and marker in str(r["body"].get("query", ""))]


def load_sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())
