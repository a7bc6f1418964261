"""One ``HttpSession`` called from several threads at once (a writer with calls in flight, platforms/http.py).

A real HTTP server on 127.0.0.1 answers every request after a short sleep, so the threads' calls overlap.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from ecom_pipeline.platforms.errors import RequestBudgetExceeded
from ecom_pipeline.platforms.http import HttpOptions, HttpSession

BODY = json.dumps({"ok": True}).encode()


class _Handler(BaseHTTPRequestHandler):
    served = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        time.sleep(0.005)
        with _Handler.lock:
            _Handler.served += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.served = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class RecordingSession(requests.Session):
    """A client's own session class (as PrestaShop's): records which thread sent through which session."""

    uses: list[tuple[int, int]] = []
    lock = threading.Lock()

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        with RecordingSession.lock:
            RecordingSession.uses.append((threading.get_ident(), id(self)))
        return super().request(*args, **kwargs)


def test_threads_send_through_their_own_session_of_the_clients_class_and_the_counters_add_up(server: str) -> None:
    """Prevents threads sharing one requests.Session (requests does not promise it is thread-safe) or a thread's
    session losing the client's session class (PrestaShop's sends XML bodies), and lost counter updates."""
    RecordingSession.uses = []
    http = HttpSession(server, platform="test", options=HttpOptions(max_retries=0), session=RecordingSession())
    calls = 50

    def work(_: int) -> None:
        for _ in range(calls):
            http.request("GET", "thing")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    http.close()
    assert http.stats.api_calls == 8 * calls == _Handler.served
    assert http.stats.bytes_received == 8 * calls * len(BODY)
    sessions_of: dict[int, set[int]] = {}
    threads_of: dict[int, set[int]] = {}
    for thread, session in RecordingSession.uses:
        sessions_of.setdefault(thread, set()).add(session)
        threads_of.setdefault(session, set()).add(thread)
    assert len(RecordingSession.uses) == 8 * calls  # every call went through a RecordingSession
    assert len(threads_of) >= 2 and all(len(t) == 1 for t in threads_of.values()), "a session used by 2 threads"


def test_the_request_budget_holds_exactly_across_threads(server: str) -> None:
    """Prevents two threads both taking the last request of the budget."""
    http = HttpSession(server, platform="test", options=HttpOptions(max_retries=0, request_budget=100))
    refused = 0
    lock = threading.Lock()

    def work(_: int) -> None:
        nonlocal refused
        for _ in range(30):
            try:
                http.request("GET", "thing")
            except RequestBudgetExceeded:
                with lock:
                    refused += 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    http.close()
    assert _Handler.served == 100 == http.stats.api_calls
    assert refused == 8 * 30 - 100
