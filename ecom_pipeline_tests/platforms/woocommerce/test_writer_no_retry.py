"""A WooCommerce products batch that creates variable products is sent without the transport's retries, for its
own thread only (``_Writer._send_products``, ``HttpSession.without_retries``).

A real HTTP server on 127.0.0.1 holds the two threads' batches so that they overlap in a set order.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.writer import _Writer
from ecom_pipeline.sync.export import ExportPlan, ProductCreate
from ecom_pipeline_tests.local_http import QuietHandler, serving

BATCH_ANSWER = json.dumps({"create": []}).encode()


class _Shop(QuietHandler):
    """The first products batch is held until a second arrives; the second until the test releases it. Any GET is
    answered 503 the first time and 200 after (a call that is retried succeeds)."""

    first_in = threading.Event()
    second_in = threading.Event()
    release_second = threading.Event()
    batches = 0
    gets = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with _Shop.lock:
            _Shop.batches += 1
            number = _Shop.batches
        if number == 1:
            _Shop.first_in.set()
            _Shop.second_in.wait(5)
        else:
            _Shop.second_in.set()
            _Shop.release_second.wait(5)
        self.send_body(200, BATCH_ANSWER)

    def do_GET(self) -> None:
        with _Shop.lock:
            _Shop.gets += 1
            first = _Shop.gets == 1
        self.send_body(503 if first else 200, b'{"code": "busy", "message": "busy"}' if first else b'{"id": 7}')


@pytest.fixture
def shop() -> Iterator[str]:
    for event in (_Shop.first_in, _Shop.second_in, _Shop.release_second):
        event.clear()
    _Shop.batches = _Shop.gets = 0
    with serving(_Shop) as url:
        try:
            yield url
        finally:
            _Shop.release_second.set()


def test_two_threads_sending_variable_creates_at_once_leave_the_retries_on_afterwards(shop: str) -> None:
    """Prevents the retries staying off for the rest of a push: the writer used to set ``max_retries = 0`` on the
    shared session around such a batch and put back what it had read, so a thread that entered while another was
    inside read 0, and put 0 back after the other had restored 5. Every later call of the push (reads, updates)
    then failed on the first 503 or dropped connection."""
    client = WooCommerceClient(shop, "ck_test", "cs_test", max_retries=5, sleep=lambda _s: None)
    writer = _Writer(client, ExportPlan(integration_id=1, platform="woocommerce"), on_links=lambda _rows: None)
    chunk: list[tuple[str, Any, dict[str, Any]]] = [
        ("create", ProductCreate(hub_id=1, handle="mug", kind="variable", values={}, variants=()), {"name": "Mug"})
    ]
    errors: list[BaseException] = []

    def send() -> None:
        try:
            writer._send_products(chunk)
        except BaseException as err:  # reported by the assertion below
            errors.append(err)

    first, second = threading.Thread(target=send), threading.Thread(target=send)
    first.start()
    assert _Shop.first_in.wait(5)
    second.start()  # enters while the first thread's batch is in flight
    assert _Shop.second_in.wait(5)
    first.join(5)  # the first leaves the block while the second is still inside
    _Shop.release_second.set()
    second.join(5)
    assert not errors and _Shop.batches == 2
    assert client.http.max_retries == 5
    with _Shop.lock:  # only the GET below is counted
        _Shop.gets = 0
    retries = client.http.stats.retries
    assert client.get("products/7") == {"id": 7}  # a 503 then 200: retried
    assert _Shop.gets == 2 and client.http.stats.retries == retries + 1
    client.close()
