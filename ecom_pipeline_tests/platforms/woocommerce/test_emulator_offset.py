"""The emulated WooCommerce's ``offset`` list argument, over real HTTP, as the real store has it.

Issue 12: the full scan reads pages by ``offset`` (overlapping by one record). The emulator ignored the argument
(every offset answered the first page), so a scan against it would have looped or missed records while a real shop
served them. The recorded route index (WooCommerce 10.0.2) declares ``offset`` on the list routes ("Offset the
result set by a specific number of items.", integer); no recorded exchange uses it, so what it does follows
WordPress's code: posts (products, orders) take ``absint(offset)`` for the LIMIT and ignore ``page``; the users
controller (customers) only when the offset is not empty (``offset=0`` pages by ``page``); X-WP-Total is the whole
filtered list's count and X-WP-TotalPages that count over ``per_page``, whatever the offset.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sandbox.woocommerce.auth import sign_oauth_query
from ecom_pipeline_tests.paths import fixtures_dir


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopHandle]:
    spec = ShopSpec(name="wc-offset", platform="woocommerce", seed=4, products=23, variable_share=0.0, orders=23,
                    customers=23)  # fmt: skip
    with SandboxServer(shops=[spec], cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server.shop("wc-offset")


def _get(shop: ShopHandle, resource: str, **params: str) -> tuple[list[int], requests.Response]:
    url = f"{shop.http_url}/wp-json/wc/v3/{resource}"
    query = {"orderby": "id", "order": "asc", "_fields": "id", **params}
    if resource == "customers":
        query["role"] = "all"
    signed = sign_oauth_query("GET", url, query, shop.consumer_key, shop.consumer_secret,
                              timestamp=shop.store.now(), nonce=uuid.uuid4().hex)  # fmt: skip
    response = requests.get(url, params=signed, timeout=10)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()], response


def test_the_recorded_route_index_declares_offset() -> None:
    path = fixtures_dir() / "recorded" / "woocommerce-10.0.2" / "api-index-wc-v3.json"
    exchange: dict[str, Any] = json.loads(path.read_text())
    args = exchange["response"]["body"]["routes"]["/wc/v3/products"]["endpoints"][0]["args"]
    assert args["offset"] == {
        "description": "Offset the result set by a specific number of items.",
        "type": "integer",
        "required": False,
    }


@pytest.mark.parametrize("resource", ["products", "orders", "customers"])
def test_offset_replaces_page_and_the_totals_stay_the_whole_list(shop: ShopHandle, resource: str) -> None:
    every, _ = _get(shop, resource, per_page="100")
    assert len(every) >= 20
    ids, response = _get(shop, resource, per_page="5", offset="7")
    assert ids == every[7:12]
    assert response.headers["X-WP-Total"] == str(len(every))
    assert response.headers["X-WP-TotalPages"] == str(math.ceil(len(every) / 5))
    assert _get(shop, resource, per_page="5", offset="7", page="3")[0] == every[7:12]  # page is ignored
    assert _get(shop, resource, per_page="5", offset=str(len(every) - 2))[0] == every[-2:]
    assert _get(shop, resource, per_page="5", offset=str(len(every) + 3))[0] == []


def test_offset_zero_pages_by_page_for_customers_only(shop: ShopHandle) -> None:
    products, _ = _get(shop, "products", per_page="100")
    customers, _ = _get(shop, "customers", per_page="100")
    assert _get(shop, "products", per_page="5", offset="0", page="2")[0] == products[:5]  # absint(0): a LIMIT 0, 5
    assert _get(shop, "customers", per_page="5", offset="0", page="2")[0] == customers[5:10]  # empty(0): by page
