"""Connection limits of the running receiver, probed with raw sockets (what a hostile client can do to it).

The receiver runs under uvicorn exactly as ``serve-webhooks`` runs it (``webhooks.limits.uvicorn_options``); the
fixture shortens the deadlines so the tests take seconds.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.limits import ReceiverLimits
from ecom_pipeline_tests.webhooks.conftest import Receiver, ReceiverServer, recorded_delivery

SHORT = ReceiverLimits(
    max_header_bytes=8 * 1024, max_header_count=32, header_timeout_s=0.5, body_timeout_s=0.5, keep_alive_s=1
)
PATH = b"/webhooks/woocommerce/1"


@pytest.fixture
def strict(receiver: Receiver) -> Iterator[ReceiverServer]:
    """A second receiver on the same warehouse with short deadlines."""
    app = create_app(engine=receiver.engine, cipher=receiver.cipher, limits=SHORT)
    with ReceiverServer(app, SHORT) as server:
        yield server


def _connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as closed)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def _head(extra: bytes = b"", length: int = 2) -> bytes:
    return (
        b"POST "
        + PATH
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + extra
        + (b"Content-Length: %d\r\n\r\n" % length)
    )


def test_endless_headers_are_refused_431_without_being_read_whole(receiver: Receiver) -> None:
    """Prevents one unsigned request with a gigabyte of headers from being buffered whole before its 401 (the
    receiver grew to 2.1 GB): the head is cut off past the limit, with the default limits."""
    port = int(receiver.url.rsplit(":", 1)[1])
    sock = _connect(port)
    sock.sendall(b"POST " + PATH + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: ")
    sent = 0
    try:
        while sent < 48 * 1024 * 1024:
            sock.sendall(b"a" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = _read_all(sock)
    sock.close()
    assert sent < 32 * 1024 * 1024, f"the receiver kept reading headers ({sent} bytes)"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_too_many_or_too_large_headers_get_431(strict: ReceiverServer) -> None:
    """Prevents header floods below the size cap (thousands of small headers) and single huge headers."""
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(100))
    big = b"X-Big: " + b"b" * (20 * 1024) + b"\r\n"
    for extra in (many, big):
        sock = _connect(strict.port)
        sock.sendall(_head(extra) + b"{}")
        answer = _read_all(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
        assert b"headers_too_large" in answer


def test_slow_or_silent_connections_are_closed(strict: ReceiverServer) -> None:
    """Prevents slow-loris clients (200 connections sending a head byte by byte, or nothing) from staying open
    forever: past the head deadline a half-sent head gets 408 and every such connection is closed."""
    silent = [_connect(strict.port) for _ in range(100)]
    slow = [_connect(strict.port) for _ in range(100)]
    for sock in slow:
        sock.sendall(b"POST " + PATH + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    answers = [_read_all(sock) for sock in silent + slow]
    elapsed = time.monotonic() - started
    for sock in silent + slow:
        sock.close()
    assert elapsed < 5, f"connections stayed open {elapsed:.1f} s"
    assert all(answer == b"" for answer in answers[:100])
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers[100:]), answers[100][:200]


def test_a_body_that_arrives_too_slowly_gets_408(strict: ReceiverServer) -> None:
    """Prevents a client from holding a request open by announcing a body and never finishing it."""
    sock = _connect(strict.port)
    sock.sendall(_head(length=1000) + b'{"id": 1')
    started = time.monotonic()
    answer = _read_all(sock)
    sock.close()
    assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_real_deliveries_pass_the_limits(strict: ReceiverServer) -> None:
    """Prevents limits so tight that a real WooCommerce delivery (about ten headers, one write) is refused."""
    headers, body = recorded_delivery("webhook-delivery-product-updated-price")
    response = requests.post(f"{strict.url}{PATH.decode()}", data=body, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
