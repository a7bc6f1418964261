"""One ``HttpSession`` called from several threads at once (a writer with calls in flight, platforms/http.py).

A real HTTP server on 127.0.0.1 answers every request after a short sleep, so the threads' calls overlap.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from ecom_pipeline.platforms.errors import RequestBudgetExceeded, ShopServerError
from ecom_pipeline.platforms.http import HttpOptions, HttpSession
from ecom_pipeline_tests.local_http import QuietHandler, serving

BODY = json.dumps({"ok": True}).encode()


class _Handler(QuietHandler):
    served = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        time.sleep(0.005)
        with _Handler.lock:
            _Handler.served += 1
        self.send_body(200, BODY)


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.served = 0
    with serving(_Handler) as url:
        yield url


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


class _FlakyHandler(QuietHandler):
    """503 to the first request of each path, 200 after: one retry makes any call succeed."""

    seen: dict[str, int] = {}
    lock = threading.Lock()

    def do_GET(self) -> None:
        with _FlakyHandler.lock:
            count = _FlakyHandler.seen[self.path] = _FlakyHandler.seen.get(self.path, 0) + 1
        self.send_body(200 if count > 1 else 503, BODY if count > 1 else b'{"message": "busy"}')


@pytest.fixture
def flaky() -> Iterator[str]:
    _FlakyHandler.seen = {}
    with serving(_FlakyHandler) as url:
        yield url


def test_without_retries_is_for_the_calling_thread_only_and_other_threads_keep_theirs(flaky: str) -> None:
    """Prevents a create sent without retries (a lost answer may hide a record the shop made) switching the retries
    off for the other threads of the same session (a push's reads and updates in flight), as setting
    ``max_retries`` on the shared session did; and the retries staying off after the block."""
    http = HttpSession(flaky, platform="test", options=HttpOptions(max_retries=3, sleep=lambda _s: None))
    inside, other_done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def create() -> None:
        with http.without_retries():
            outcome["inside"] = http.max_retries
            inside.set()
            other_done.wait(5)  # the other thread's call runs while this thread is in the block
            try:
                http.request("GET", "create")
            except ShopServerError as err:
                outcome["create"] = err.status
        outcome["after"] = http.max_retries

    def read() -> None:
        inside.wait(5)
        try:
            outcome["read"] = http.request("GET", "read").data
        finally:
            other_done.set()

    threads = [threading.Thread(target=create), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    http.close()
    assert outcome == {"inside": 0, "create": 503, "read": {"ok": True}, "after": 3}
    assert _FlakyHandler.seen == {"/create": 1, "/read": 2}  # the create sent once, the read retried
    assert http.stats.retries == 1 and http.max_retries == 3
