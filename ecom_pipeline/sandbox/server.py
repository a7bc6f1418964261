"""Run emulated shops on 127.0.0.1 over plain HTTP and HTTPS at once.

Each shop lives under its own path prefix (``http://127.0.0.1:PORT/<shop>`` is its site URL; a WooCommerce API
is under ``/wp-json/wc/v3``), whatever its platform: emulators plug in through ``sandbox/registry.py``. Both
listeners serve the same shops: WooCommerce's auth rules differ by scheme (Basic over TLS, OAuth 1.0a over plain
HTTP), so clients need both. Admin endpoints under ``/__sandbox/<shop>/`` (no auth)
set faults, read request stats and mutate data.

Deviation from the recorded store, on purpose: absolute URLs (``_links``, ``Link``, permalinks) use the scheme,
host and port the client addressed, like a correctly configured store; the recorded store mixed the HTTPS
scheme with the HTTP port, which no client could follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import threading
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.registry import build_emulated_shop
from ecom_pipeline.sandbox.shop import Receive, Scope, Send, ShopHandle, ShopSpec, read_body
from ecom_pipeline.sandbox.tls import ensure_certificates
from ecom_pipeline.sandbox.woocommerce.api import php_json

__all__ = ["SandboxServer", "ShopHandle", "ShopSpec", "build_shop", "serve_forever"]

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
)


def build_shop(spec: ShopSpec, clock: SandboxClock) -> ShopHandle:
    """Generate a shop's data and wire its API (no network), with the platform's emulator."""
    return build_emulated_shop(spec, clock)


class SandboxApp:
    """The ASGI application: routes ``/<shop>/...`` to a shop's API and ``/__sandbox/<shop>/...`` to admin."""

    def __init__(self, shops: dict[str, ShopHandle], clock: SandboxClock) -> None:
        self.shops = shops
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        parts = path.split("/", 2)
        if len(parts) >= 2 and parts[1] == "__sandbox":
            await self.admin(scope, receive, send)
            return
        shop = self.shops.get(parts[1]) if len(parts) >= 2 else None
        if shop is None:
            await _plain(
                send, 404, {"code": "sandbox_unknown_shop", "message": f"No shop at {path}", "data": {"status": 404}}
            )
            return
        subpath = "/" + parts[2] if len(parts) > 2 else "/"
        host = _header(scope, b"host") or f"{scope['server'][0]}:{scope['server'][1]}"
        site = f"{scope.get('scheme', 'http')}://{host}/{shop.name}"
        status = await self.serve_shop(shop, scope, receive, send, site, subpath)
        shop.stats.record(scope["method"], subpath, status)

    async def serve_shop(
        self, shop: ShopHandle, scope: Scope, receive: Receive, send: Send, site: str, subpath: str
    ) -> int:
        faults = shop.faults
        if faults.slow_ms > 0:
            await asyncio.sleep(faults.slow_ms / 1000)
        if faults.take_rate_limit():
            wait = max(1, faults.retry_after_s)
            platform_throttle = getattr(shop.api, "rate_limited", None)
            if platform_throttle is not None:  # the platform's own 429 (body and headers)
                await platform_throttle(send, wait)
                return 429
            body = {
                "code": "woocommerce_rest_too_many_requests",
                "message": f"Too many requests. Please wait {wait} seconds before trying again.",
                "data": {"status": 429},
            }
            await _plain(send, 429, body, [("Retry-After", str(wait))])
            return 429
        error_status = faults.take_server_error(f"{scope['method']} {subpath}")
        if error_status is not None:
            await _server_error(send, error_status, faults.retry_after_s)
            return error_status
        cut = faults.take_cut(f"{scope['method']} {subpath}")
        if cut is None and faults.holding:
            return await self._serve_holding(shop, scope, receive, send, site, subpath)
        if cut is None:
            return await shop.api(scope, receive, send, site=site, subpath=subpath)
        state: dict[str, int] = {"status": 0}

        async def cutting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                await send(message)
            elif message["type"] == "http.response.body":
                # Send part of the body, then make the server drop the connection mid-response.
                await send({"type": "http.response.body", "body": message.get("body", b"")[:cut], "more_body": True})
                raise _CutConnection

        with contextlib.suppress(_CutConnection):
            await shop.api(scope, receive, cutting_send, site=site, subpath=subpath)
        return state["status"] or 599

    async def _serve_holding(
        self, shop: ShopHandle, scope: Scope, receive: Receive, send: Send, site: str, subpath: str
    ) -> int:
        """Serve with the answer buffered; a write that is the one ``hold_after_writes`` names is applied, then its
        answer waits for ``release_held`` (``FaultSwitches``): the client sees nothing until it is released."""
        messages: list[dict[str, Any]] = []

        async def buffer(message: dict[str, Any]) -> None:
            messages.append(message)

        operations = getattr(shop.api, "operations", None)
        seen = len(operations) if operations is not None else 0
        await shop.api(scope, receive, buffer, site=site, subpath=subpath)
        if operations is not None:  # GraphQL: only a mutation writes
            is_write = any(kind == "mutation" for kind, _ in operations[seen:])
        else:
            is_write = scope["method"] in ("POST", "PUT", "PATCH", "DELETE")
        if is_write and shop.faults.take_hold():
            timeout = float(shop.faults.hold_timeout_s)
            await asyncio.get_running_loop().run_in_executor(None, shop.faults.wait_release, timeout)
        status = next((int(m["status"]) for m in messages if m["type"] == "http.response.start"), 599)
        with contextlib.suppress(Exception):  # the client may have been killed while its answer was held
            for message in messages:
                await send(message)
        return status

    async def admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = scope["path"].strip("/").split("/")
        if len(parts) < 2:
            await _plain(send, 200, {"shops": sorted(self.shops)})
            return
        shop = self.shops.get(parts[1])
        action = parts[2] if len(parts) > 2 else ""
        if shop is None:
            await _plain(send, 404, {"error": f"unknown shop {parts[1]}"})
            return
        body = await read_body(receive)
        data = json.loads(body) if body.strip() else {}
        method = scope["method"]
        try:
            if action == "faults":
                if method == "POST":
                    if data.get("reset"):
                        shop.faults.reset()
                        data = {k: v for k, v in data.items() if k != "reset"}
                    shop.faults.update(data)
                await _plain(send, 200, shop.faults.as_dict())
            elif action == "stats":
                if method == "DELETE" or data.get("reset"):
                    shop.stats.reset()
                await _plain(send, 200, shop.stats.as_dict())
            elif action == "touch" and method == "POST":
                ids = shop.store.touch_products(count=data.get("count", 1), ids=data.get("ids"))
                await _plain(send, 200, {"touched": ids})
            elif action == "clock":
                if method == "POST":
                    if "advance_s" in data:
                        self.clock.advance(float(data["advance_s"]))
                    if "set" in data:
                        self.clock.set(datetime.fromisoformat(data["set"]))
                    if "time_scale" in data:
                        self.clock.time_scale = float(data["time_scale"])
                    if data.get("freeze"):
                        self.clock.freeze()
                    if data.get("unfreeze"):
                        self.clock.unfreeze()
                await _plain(send, 200, {"now": self.clock.now().isoformat(), "time_scale": self.clock.time_scale})
            elif action == "stock" and method == "POST":
                item = shop.store.set_stock(int(data["id"]), int(data["quantity"]))
                await _plain(send, 200, {"id": item.id, "stock_quantity": item.stock_quantity})
            elif action == "orders" and method == "POST":
                order = shop.store.add_order(data)
                await _plain(send, 201, {"id": order.id, "status": order.status})
            else:
                await _plain(send, 404, {"error": f"unknown admin action {action!r}"})
        except (KeyError, ValueError, TypeError) as exc:
            await _plain(send, 400, {"error": str(exc)})


class _CutConnection(Exception):
    """Raised inside the ASGI app so uvicorn aborts the connection mid-body."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _plain(send: Send, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> None:
    raw = [(b"content-type", b"application/json; charset=UTF-8")]
    raw += [(k.encode(), v.encode()) for k, v in headers or []]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": php_json(body)})


async def _server_error(send: Send, status: int, retry_after: int) -> None:
    if status == 502:
        await send({"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": NGINX_502.encode()})
        return
    if status == 503:
        await _plain(
            send,
            503,
            {"code": "service_unavailable", "message": "Service temporarily unavailable.", "data": {"status": 503}},
            [("Retry-After", str(max(1, retry_after)))],
        )
        return
    await _plain(
        send,
        status,
        {
            "code": "internal_server_error",
            "message": "<p>There has been a critical error on this website.</p>",
            "data": {"status": status},
            "additional_errors": [],
        },
    )


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets whose proto says TCP, and with Nagle on
    # every small response waits ~40 ms for the client's delayed ACK (a real shop behind nginx has no such stall).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class SandboxServer:
    """Emulated shops served over HTTP and HTTPS from a background thread.

    Use as a context manager (``with SandboxServer(shops=[spec], cert_dir=tmp) as sb:``) or call
    :meth:`start` / :meth:`stop`. Port 0 picks a free port.
    """

    def __init__(
        self,
        shops: list[ShopSpec],
        host: str = "127.0.0.1",
        http_port: int = 0,
        https_port: int = 0,
        cert_dir: Path | str | None = None,
        clock: SandboxClock | None = None,
    ) -> None:
        if cert_dir is None:
            raise ValueError("cert_dir is required (the CA bundle is written there)")
        self.host = host
        self.clock = clock or SandboxClock()
        self.cert_files = ensure_certificates(
            Path(cert_dir), hosts=tuple(dict.fromkeys((host, "127.0.0.1", "localhost")))
        )
        self.shops: dict[str, ShopHandle] = {}
        for spec in shops:
            if spec.name in self.shops or "/" in spec.name or spec.name.startswith("__"):
                raise ValueError(f"bad or duplicate shop name {spec.name!r}")
            self.shops[spec.name] = build_shop(spec, self.clock)
        self.app = SandboxApp(self.shops, self.clock)
        self._http_sock = _bind(host, http_port)
        self._https_sock = _bind(host, https_port)
        self.http_port = self._http_sock.getsockname()[1]
        self.https_port = self._https_sock.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        for shop in self.shops.values():
            shop.http_url = f"http://{url_host}:{self.http_port}/{shop.name}"
            shop.https_url = f"https://{url_host}:{self.https_port}/{shop.name}"
        self._servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def ca_bundle(self) -> str:
        """Path of the CA certificate PEM that verifies the HTTPS listener."""
        return str(self.cert_files.ca_cert)

    def shop(self, name: str) -> ShopHandle:
        return self.shops[name]

    def credentials(self) -> dict[str, Any]:
        """Everything a client needs, per shop (also what :func:`serve_forever` writes to disk)."""
        return {
            "ca_bundle": self.ca_bundle,
            "http_port": self.http_port,
            "https_port": self.https_port,
            "shops": {name: shop.describe(self.ca_bundle) for name, shop in self.shops.items()},
        }

    def start(self) -> SandboxServer:
        common: dict[str, Any] = {
            "log_level": "warning",
            "lifespan": "off",
            "server_header": False,
            "date_header": True,
            "access_log": False,
            "timeout_keep_alive": 30,
            # Idle keep-alive clients must not hold shutdown hostage.
            "timeout_graceful_shutdown": 1,
        }
        self._servers = [
            uvicorn.Server(uvicorn.Config(self.app, **common)),
            uvicorn.Server(
                uvicorn.Config(
                    self.app,
                    ssl_certfile=str(self.cert_files.server_cert),
                    ssl_keyfile=str(self.cert_files.server_key),
                    **common,
                )
            ),
        ]
        self._thread = threading.Thread(target=self._run, name="sandbox-server", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise RuntimeError("sandbox server failed to start") from self._error
        return self

    def _run(self) -> None:
        async def main() -> None:
            tasks = [
                asyncio.create_task(self._servers[0].serve(sockets=[self._http_sock])),
                asyncio.create_task(self._servers[1].serve(sockets=[self._https_sock])),
            ]
            while not all(s.started for s in self._servers):
                if any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.01)
            self._started.set()
            await asyncio.gather(*tasks)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._started.set()

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
            server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)
        for sock in (self._http_sock, self._https_sock):
            sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(
    shops: list[ShopSpec],
    host: str = "127.0.0.1",
    http_port: int = 0,
    https_port: int = 0,
    cert_dir: Path | str = Path(".sandbox/certs"),
    credentials_file: Path | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (for the ``ecom-pipeline sandbox`` CLI).

    When the listeners are up, writes :meth:`SandboxServer.credentials` as JSON to ``credentials_file``.
    """
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SandboxServer(shops, host=host, http_port=http_port, https_port=https_port, cert_dir=cert_dir) as sb:
            if credentials_file is not None:
                path = Path(credentials_file)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(path.suffix + ".tmp")
                tmp.write_text(json.dumps(sb.credentials(), indent=2))
                tmp.replace(path)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
