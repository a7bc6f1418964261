"""The look-up of a lost variable create (``_Writer._lost_parent``) against a shop that ignores the ``slug`` filter.

A real HTTP server on 127.0.0.1 answers every product list with the same page of other products, whatever the
query: the look-up must stop, not read ``<slug>-2``, ``-3``, ... for ever.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.writer import OWN_MARK_KEY, _Writer
from ecom_pipeline.sync.export import ExportPlan, ProductCreate
from ecom_pipeline_tests.local_http import QuietHandler, serving

# Two products that are not the one asked for; the first even carries our mark (say, another hub handle's).
PAGE = [
    {"id": 21, "type": "variable", "slug": "hoodie", "meta_data": [{"key": OWN_MARK_KEY, "value": "acme/1/7"}]},
    {"id": 22, "type": "simple", "slug": "mug", "meta_data": []},
]


class _Shop(QuietHandler):
    gets = 0

    def do_GET(self) -> None:
        _Shop.gets += 1
        self.send_body(200, json.dumps(PAGE).encode())


@pytest.fixture
def shop() -> Iterator[str]:
    _Shop.gets = 0
    with serving(_Shop) as url:
        yield url


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
