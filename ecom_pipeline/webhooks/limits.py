"""What one connection may cost the receiver: header size and count, and how long a request may take to arrive.

The receiver is a public endpoint, so anyone can open connections to it. uvicorn's default HTTP parser
(httptools) has no limit on header size, and uvicorn times out only the idle time *between* requests: one request
with 1 GB of headers was read whole into memory before its 401, and connections that send a request slowly (or
nothing at all) stayed open forever. :class:`GuardedHttpToolsProtocol` is uvicorn's httptools protocol with:

- a cap on the request head (request line + headers, ``max_header_bytes``) and on the number of headers
  (``max_header_count``): over either, the answer is 431 and the connection is closed, before the rest is read;
- a deadline for the head (``header_timeout_s``, from the connection's first moment or the request's first byte;
  an idle new connection is closed, a half-sent head gets 408);
- a deadline for the body once the head is in (``body_timeout_s``; 408, and the app sees a disconnect);
- a cap on open connections (``max_connections``; beyond it new connections are closed at once).

The app also checks header count and size itself (:class:`HeaderLimitMiddleware`), so the limits hold behind
another server too; the body cap is the app's (Content-Length first, then counted while streaming).

Real deliveries are far inside these limits: WooCommerce sends about ten headers (under 1 KiB) and its bodies
in one go; Shopify the same.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ReceiverLimits:
    """Per-connection limits of the receiver (see the module docstring)."""

    max_header_bytes: int = 16 * 1024
    max_header_count: int = 64
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 2048
    keep_alive_s: int = 5


def _error_bytes(status: int, code: str, message: str) -> bytes:
    body = json.dumps({"ok": False, "code": code, "message": message}).encode()
    head = [
        STATUS_LINE[status],
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
    ]
    return b"".join(head) + body


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that is over a limit."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head/body limits and deadlines (bind limits with :func:`guarded_protocol`)."""

    limits: ClassVar[ReceiverLimits] = ReceiverLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # bytes received while the head is incomplete (bounds memory before parsing ends)
        self._head_size = 0  # exact: request target + header names and values
        self._head_count = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, str] | None = None

    # -- timers ----------------------------------------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a pipelined head: finish the current answer, then close
            return
        if self._head_bytes:
            message = f"request headers not received within {self.limits.header_timeout_s:g} s"
            self.transport.write(_error_bytes(408, "request_timeout", message))
        self.transport.close()

    def _body_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            message = f"request body not received within {self.limits.body_timeout_s:g} s"
            self.transport.write(_error_bytes(408, "request_timeout", message))
        if cycle is not None:
            cycle.disconnected = True  # the app's receive() now reports a disconnect; its answer goes nowhere
            cycle.message_event.set()
        self.transport.close()

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._refusal = (status, code, message)
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_error_bytes(status, code, message))
            self.transport.close()

    # -- connection ------------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.logger.warning("receiver: %d open connections; closing a new one", len(self.connections))
            transport.close()
            return
        self._arm(self.limits.header_timeout_s, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None or self.transport.is_closing():
            return
        if self._in_head:
            self._head_bytes += len(data)
            if self._deadline is None:  # the first byte of a request on a kept-alive connection
                self._arm(self.limits.header_timeout_s, self._head_timed_out)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                return  # answered by _refuse
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self._disarm()
            self.send_400_response(msg)
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes + 8192:
            # Still no end of head after the cap (plus slack for a body in the same read): stop reading it.
            self._refuse(431, "headers_too_large", self._too_large())

    def _too_large(self) -> str:
        return (
            f"request headers over {self.limits.max_header_bytes} bytes or {self.limits.max_header_count} headers "
            "are refused"
        )

    # -- parser callbacks ------------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0
        self._head_count = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)
        if self._head_size > self.limits.max_header_bytes:
            self._refuse(414, "uri_too_long", f"request targets over {self.limits.max_header_bytes} bytes are refused")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        self._head_count += 1
        if self._head_size > self.limits.max_header_bytes or self._head_count > self.limits.max_header_count:
            self._refuse(431, "headers_too_large", self._too_large())
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._disarm()
        super().on_headers_complete()
        self._arm(self.limits.body_timeout_s, self._body_timed_out)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()


def guarded_protocol(limits: ReceiverLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class to hand uvicorn (``http=``) with ``limits`` bound."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


def uvicorn_options(limits: ReceiverLimits) -> dict[str, Any]:
    """The uvicorn settings that enforce ``limits`` (``serve`` and the tests run the receiver with these).

    ``h11_max_incomplete_event_size`` caps the head too if someone picks ``--http h11`` (h11 then answers 400).
    """
    return {
        "http": guarded_protocol(limits),
        "timeout_keep_alive": limits.keep_alive_s,
        "limit_concurrency": limits.max_connections,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }


class HeaderLimitMiddleware:
    """431 for requests over the header limits, whatever server runs the app (cheap: a sum over the headers)."""

    def __init__(self, app: ASGIApp, limits: ReceiverLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope.get("headers") or ()
            size = sum(len(name) + len(value) + 4 for name, value in headers)
            if len(headers) > self.limits.max_header_count or size > self.limits.max_header_bytes:
                body = json.dumps(
                    {
                        "ok": False,
                        "code": "headers_too_large",
                        "message": f"request headers over {self.limits.max_header_bytes} bytes or "
                        f"{self.limits.max_header_count} headers are refused",
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 431,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
