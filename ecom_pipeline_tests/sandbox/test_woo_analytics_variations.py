"""The emulator's ``GET /wp-json/wc-analytics/variations`` (WooCommerce core's cross-parent variations listing):
auth as wc/v3, the ``parent`` filter, WordPress paging headers, the analytics body (post title as ``name``,
product-0 links) and the switch that removes the route as disabled analytics do (404 ``rest_no_route``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from ecom_pipeline.platforms.errors import ShopAuthError, ShopBadRequestError, ShopNotFoundError
from ecom_pipeline.platforms.woocommerce.auth import auth_for
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline_tests.paths import shared_dir


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopHandle]:
    spec = ShopSpec(
        name="wc-an", platform="woocommerce", seed=4, products=40, variable_share=0.5, orders=1, customers=1
    )
    with SandboxServer(shops=[spec], cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server.shop("wc-an")


def _client(shop: ShopHandle, secret: str | None = None) -> WooCommerceClient:
    return WooCommerceClient(shop.http_url, shop.consumer_key, secret or shop.consumer_secret, max_retries=0)


def test_the_listing_filters_by_parent_and_pages_like_a_wordpress_collection(shop: ShopHandle) -> None:
    variable = sorted((p for p in shop.store.products.values() if p.type == "variable"), key=lambda p: p.id)
    parents = variable[:4]
    expected = sorted(v for p in parents for v in p.variation_ids)
    url = f"{shop.http_url}/wp-json/wc-analytics/variations"
    params = {"parent": ",".join(str(p.id) for p in parents), "per_page": 3, "orderby": "id", "order": "asc"}
    with _client(shop) as client:
        first = client.request("GET", url, params={**params, "page": 1})
        assert first.headers["X-WP-Total"] == str(len(expected))
        assert first.headers["X-WP-TotalPages"] == str(-(-len(expected) // 3))
        assert "wc-analytics/variations?" in first.links["next"] and "page=2" in first.links["next"]
        seen = [v["id"] for page in client.iter_variations_of([p.id for p in parents]) for v in page.items]
        items = first.data
    assert seen == expected  # every variation of those parents, by id, none of another product
    by_id = {p.id: p for p in parents}
    for item in items:
        parent = by_id[item["parent_id"]]
        assert item["type"] == "variation"
        assert item["name"].startswith(parent.name)  # the post title, "<parent> - <values>" (or the parent's)
        assert item["_links"]["up"] == [{"href": f"{shop.http_url}/wp-json/wc-analytics/products/0"}]
        assert item["_links"]["self"][0]["targetHints"] == {"allow": ["GET", "DELETE"]}


def test_the_listing_has_the_v3_keys_in_the_v3_order(shop: ShopHandle) -> None:
    """WooCommerce overwrites name, type and parent_id, keys the v3 body has: the key order is the recorded one."""
    recorded = json.loads(
        (shared_dir() / "fixtures/recorded/woocommerce-10.0.2/products-variations-list.json").read_text()
    )["response"]["body"][0]
    with _client(shop) as client:
        item = next(iter(client.iter_variations_of([]))).items[0]
    assert list(item) == list(recorded)


def test_the_listing_refuses_what_wc_v3_refuses(shop: ShopHandle) -> None:
    with _client(shop, secret="cs_wrong") as client, pytest.raises(ShopAuthError):
        list(client.iter_variations_of([1]))
    with _client(shop) as client, pytest.raises(ShopBadRequestError) as bad:
        client.request("GET", f"{shop.http_url}/wp-json/wc-analytics/variations", params={"parent": "abc"})
    assert bad.value.code == "rest_invalid_param"


def test_disabled_analytics_answer_rest_no_route(shop: ShopHandle) -> None:
    shop.api.analytics_enabled = False
    try:
        with _client(shop) as client, pytest.raises(ShopNotFoundError) as gone:
            list(client.iter_variations_of([1]))
        assert gone.value.code == "rest_no_route" and gone.value.status == 404
    finally:
        shop.api.analytics_enabled = True


def test_recorded_404_shape_is_the_disabled_routes(shop: ShopHandle) -> None:
    recorded = json.loads(
        (shared_dir() / "fixtures/recorded/woocommerce-10.0.2/errors-404-unknown-route.json").read_text()
    )
    shop.api.analytics_enabled = False
    try:
        answer = requests.get(
            f"{shop.http_url}/wp-json/wc-analytics/variations",
            auth=auth_for(shop.http_url, shop.consumer_key, shop.consumer_secret),
            timeout=10,
        )
    finally:
        shop.api.analytics_enabled = True
    assert answer.status_code == 404
    assert answer.json() == recorded["response"]["body"]
