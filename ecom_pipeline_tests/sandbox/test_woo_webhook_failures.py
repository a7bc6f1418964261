"""How the emulated WooCommerce counts a delivery as delivered or failed, and when it disables a webhook.

From WooCommerce's own source (``includes/class-wc-webhook.php``): ``log_delivery`` counts ``200 <= code < 303`` as a
success ("a 2xx, 301 or 302 Response Code") and resets ``failure_count``; ``deliver`` does not follow redirects
(``redirection => 0``); ``failed_delivery`` disables the webhook on a failure when the count is already above
``woocommerce_max_webhook_delivery_failures`` (5), else increments it: the 7th consecutive failure disables. And
re-activating by REST (``set_status``) keeps the count. Failure prevented: an emulator stricter or looser than the
store (it disabled on the 5th failure, counted a 302 as a failure and followed it, and reset the count on
re-activation), so receivers and upkeep code tuned against it behave differently on a real shop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline_tests.local_http import QuietHandler, serving
from ecom_pipeline_tests.sandbox.conftest import WooClient


class Answering:
    """A subscriber answering every POST to /hook with ``status`` (a redirect points at /elsewhere); ``url`` while
    served."""

    def __init__(self) -> None:
        self.status = 200
        self.paths: list[str] = []
        self.url = ""
        subscriber = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                subscriber.paths.append(f"{self.command} {self.path}")
                code = subscriber.status if self.path == "/hook" else 200
                self.send_response(code)
                if code in (301, 302):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = _answer
            do_GET = _answer

        self.handler = Handler


@pytest.fixture
def subscriber() -> Iterator[Answering]:
    sub = Answering()
    with serving(sub.handler) as base:
        sub.url = f"{base}/hook"
        yield sub


@pytest.fixture
def hook(shop: ShopHandle, client: WooClient, subscriber: Answering) -> Iterator[Any]:
    body = {"name": "t", "topic": "product.updated", "delivery_url": subscriber.url, "secret": "s", "status": "active"}
    created = client.request("POST", "/webhooks", json=body)
    assert created.status_code == 201
    registry = shop.extra["webhooks"]
    yield registry.hooks[created.json()["id"]]
    client.request("DELETE", f"/webhooks/{created.json()['id']}", {"force": "true"})


def _one_delivery(shop: ShopHandle, n: int) -> None:
    product = next(p for p in shop.store.products.values() if p.status == "publish")
    shop.store.update_product(product.id, {"name": f"Renamed {n}"})
    assert shop.extra["webhooks"].flush(10)


@pytest.mark.parametrize("status", [200, 204, 301, 302])
def test_2xx_301_and_302_are_successes_and_redirects_are_not_followed(
    shop: ShopHandle, hook: Any, subscriber: Answering, status: int
) -> None:
    subscriber.status = 500
    _one_delivery(shop, 0)
    assert hook.failure_count == 1
    subscriber.status = status
    subscriber.paths.clear()
    _one_delivery(shop, 1)
    assert hook.failure_count == 0 and hook.status == "active"
    assert subscriber.paths == ["POST /hook"], "a delivery does not follow redirects (redirection => 0)"


@pytest.mark.parametrize("status", [303, 404, 500])
def test_other_answers_are_failures(shop: ShopHandle, hook: Any, subscriber: Answering, status: int) -> None:
    subscriber.status = status
    _one_delivery(shop, 0)
    assert hook.failure_count == 1


def test_the_seventh_consecutive_failure_disables_and_reactivation_keeps_the_count(
    shop: ShopHandle, client: WooClient, hook: Any, subscriber: Answering
) -> None:
    subscriber.status = 500
    for n in range(6):
        _one_delivery(shop, n)
    assert (hook.status, hook.failure_count) == ("active", 6)
    _one_delivery(shop, 6)
    assert (hook.status, hook.failure_count) == ("disabled", 6)

    assert client.request("PUT", f"/webhooks/{hook.id}", json={"status": "active"}).status_code == 200
    assert (hook.status, hook.failure_count) == ("active", 6), "set_status keeps failure_count"
    _one_delivery(shop, 7)
    assert hook.status == "disabled", "the next failure disables a re-activated webhook again"

    client.request("PUT", f"/webhooks/{hook.id}", json={"status": "active"})
    subscriber.status = 200
    _one_delivery(shop, 8)
    assert (hook.status, hook.failure_count) == ("active", 0)
