"""Redirects are named, never followed: following them dropped credentials, re-sent stale OAuth signatures and
turned writes into reads, and the user saw "not found" or "wrong credentials" instead of "the shop moved"."""

from __future__ import annotations

import pickle

import pytest

from ecom_pipeline.platforms.errors import ShopRedirectError
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline_tests.platforms.replay_server import ReplayServer, Reply

KEY = "ck_0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
SECRET = "cs_76543210fedcba9876543210fedcba9876543210"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirected_write_is_not_replayed_as_a_read_elsewhere(status: int) -> None:
    """Prevents a POST answered with a redirect from being followed (requests turns a 301/302 POST into a GET, so a
    create looked like a list) and names where the shop points, without the request's credentials."""
    with ReplayServer(consumer_key=KEY, consumer_secret=SECRET) as server:
        target = f"https://shop.example.com/wp-json/wc/v3/products?consumer_key={KEY}&page=2"
        server.add("POST", "products", Reply(status, [("Location", target), ("Content-Type", "text/html")], b""))
        client = WooCommerceClient(server.site_url, KEY, SECRET, timeout=5.0, max_retries=0)
        with client, pytest.raises(ShopRedirectError) as info:
            client.request("POST", "products", json_body={"name": "x"})
        assert [r.method for r in server.requests] == ["POST"], "the redirect was followed"
    error = info.value
    assert error.status == status
    assert error.location == "https://shop.example.com/wp-json/wc/v3/products?page=2"
    text = str(error)
    assert "the shop redirects to https://shop.example.com/wp-json/wc/v3/products?page=2" in text
    assert "Connect the shop with the URL it redirects to" in text
    assert KEY not in text and SECRET not in text and "oauth_signature" not in text
    assert pickle.loads(pickle.dumps(error)).location == error.location  # survives multiprocess executors


def test_a_relative_redirect_is_named_as_an_absolute_url() -> None:
    """Prevents a Location like "/new/..." from being shown without the host it is relative to."""
    with ReplayServer(consumer_key=KEY, consumer_secret=SECRET) as server:
        server.add("GET", "products", Reply(302, [("Location", "/moved/wp-json/wc/v3/products")], b""))
        client = WooCommerceClient(server.site_url, KEY, SECRET, timeout=5.0, max_retries=0)
        with client, pytest.raises(ShopRedirectError) as info:
            client.request("GET", "products")
        assert info.value.location == f"http://127.0.0.1:{server.port}/moved/wp-json/wc/v3/products"
