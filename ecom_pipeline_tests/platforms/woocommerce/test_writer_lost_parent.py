"""The look-up of a lost variable create (``_Writer._lost_parent``) against a shop that ignores the ``slug`` filter.

A real HTTP server on 127.0.0.1 answers every product list with the same page of other products, whatever the
query: the look-up must stop, not read ``<slug>-2``, ``-3``, ... for ever.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.writer import OWN_MARK_KEY, _Writer
from ecom_pipeline.sync.export import ExportPlan, ProductCreate

# Two products that are not the one asked for; the first even carries our mark (say, another hub handle's).
PAGE = [
    {"id": 21, "type": "variable", "slug": "hoodie", "meta_data": [{"key": OWN_MARK_KEY, "value": "acme/1/7"}]},
    {"id": 22, "type": "simple", "slug": "mug", "meta_data": []},
]


class _Shop(BaseHTTPRequestHandler):
    gets = 0

    def do_GET(self) -> None:
        _Shop.gets += 1
        body = json.dumps(PAGE).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[str]:
    _Shop.gets = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_shop_that_ignores_the_slug_filter_ends_the_look_up_after_one_read(shop: str) -> None:
    """Prevents an endless loop (and the adoption of another product of ours): the answer's products hold other
    slugs, so none holds ``tee`` and the look-up ends there."""
    client = WooCommerceClient(shop, "ck_test", "cs_test", max_retries=0, sleep=lambda _s: None)
    plan = ExportPlan(integration_id=1, platform="woocommerce", tenant_id="acme")
    writer = _Writer(client, plan, on_links=lambda _rows: None)
    tee = ProductCreate(hub_id=7, handle="tee", kind="variable", values={}, variants=())
    assert writer._lost_parent(tee) is None
    assert _Shop.gets == 1
    client.close()
