"""The resend of a products batch holding an unkeyed create (sent without the transport's retries, looked up, then
sent again: ``_Writer._send_products``) waits what the shop's ``Retry-After`` asks on a 429 or 503, as the transport's
own retry does, instead of its short backoff: a throttled shop resent to at once throttles again, and the push
spends its attempts (each followed by a look-up) in a second.

A real HTTP server on 127.0.0.1 answers the first POST with the status and ``Retry-After: 7``, the look-up with no
product, the second POST with the created product; the client's sleep is recorded (``HttpOptions.sleep``).

The HTTP layer puts the parsed ``Retry-After`` on the error it raises (``ShopApiError.retry_after``); without it,
the resend waits only its backoff and this test fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.writer import _Writer
from ecom_pipeline.sync.export import ExportPlan, ProductCreate
from ecom_pipeline_tests.local_http import QuietHandler, serving


class _Shop(QuietHandler):
    status = 503
    posts = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Shop.posts += 1
        if _Shop.posts == 1:
            body = json.dumps({"code": "busy", "message": "Busy.", "data": {"status": _Shop.status}}).encode()
            self.send_response(_Shop.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "7")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_body(200, json.dumps({"create": [{"id": 31, "type": "variable", "attributes": []}]}).encode())

    def do_GET(self) -> None:
        self.send_body(200, b"[]")  # the look-up by slug: nothing made


@pytest.fixture
def shop() -> Iterator[str]:
    _Shop.posts = 0
    with serving(_Shop) as url:
        yield url


@pytest.mark.parametrize("status", [429, 503])
def test_the_resend_of_an_unkeyed_batch_waits_what_retry_after_asks(shop: str, status: int) -> None:
    _Shop.status = status
    sleeps: list[float] = []
    client = WooCommerceClient(shop, "ck_test", "cs_test", max_retries=2, sleep=sleeps.append)
    writer = _Writer(client, ExportPlan(integration_id=1, platform="woocommerce", tenant_id="acme"), lambda _r: None)
    chunk: list[tuple[str, Any, dict[str, Any]]] = [
        ("create", ProductCreate(hub_id=1, handle="mug", kind="variable", values={}, variants=()), {"name": "Mug"})
    ]
    try:
        _sent, answer = writer._send_products(chunk)
    finally:
        client.close()
    assert _Shop.posts == 2 and answer["create"][0]["id"] == 31
    assert sleeps == [7.0], sleeps
