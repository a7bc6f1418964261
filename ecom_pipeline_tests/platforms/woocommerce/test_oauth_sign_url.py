"""WooCommerce's OAuth 1.0a signer calls oauthlib's steps once each instead of ``Client.sign``'s render-parse-render
round trip (a push's 1,000 signed calls spent 150 us each in it). The URL it signs must be ``Client.sign``'s, string
for string: with the same nonce and timestamp, over the URL forms the clients send (plain paths, encoded queries,
repeated keys, brackets, unicode, empty values, ports) and every method."""

from __future__ import annotations

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY, Client

from ecom_pipeline.platforms.woocommerce.auth import WooCommerceOAuth1

KEY = "ck_0123456789abcdef0123456789abcdef01234567"
SECRET = "cs_fedcba9876543210+/=&%secret"

URLS = [
    "http://shop.test/wp-json/wc/v3/products/batch",
    "http://shop.test:8080/wp-json/wc/v3/products/123/variations/batch",
    "http://SHOP.test:80/wp-json/wc/v3/products",
    "http://shop.test/wp-json/wc/v3/products?per_page=100&page=2",
    "http://shop.test/wp-json/wc/v3/products?include=1%2C2%2C3&per_page=100",
    "http://shop.test/wp-json/wc/v3/products?sku=A%2BB&sku=C+D&orderby=id",
    "http://shop.test/wp-json/wc/v3/products?search=caf%C3%A9+cr%C3%A8me",
    "http://shop.test/wp-json/wc/v3/products?filter%5Bid%5D=%5B1%7C2%5D&empty=",
    "http://shop.test/wp-json/wc/v3/products?modified_after=2026-12-05T10%3A00%3A00&dates_are_gmt=true",
    "http://shop.test/wp-json/wc/v3/products/attributes/3/terms?per_page=100",
    "http://shop.test/sub/dir/wp-json/wc/v3/orders?status=any&page=1",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "post"])
def test_sign_url_is_oauthlib_client_sign_string_for_string(url: str, method: str) -> None:
    auth = WooCommerceOAuth1(KEY, SECRET)
    auth._client.nonce = "1234567890123456789"
    auth._client.timestamp = "1796500000"
    reference = Client(
        KEY,
        client_secret=SECRET,
        signature_method=SIGNATURE_HMAC_SHA256,
        signature_type=SIGNATURE_TYPE_QUERY,
        nonce="1234567890123456789",
        timestamp="1796500000",
    )
    expected, _headers, _body = reference.sign(url, http_method=method)
    assert auth.sign_url(url, method) == expected


def test_each_prepared_request_gets_a_fresh_nonce_and_a_signature_of_its_own() -> None:
    auth = WooCommerceOAuth1(KEY, SECRET)
    urls = set()
    for _ in range(3):
        prepared = requests.Request("POST", URLS[1], json={"update": [{"id": 1}]}).prepare()
        urls.add(auth(prepared).url)
    assert len(urls) == 3
    assert all("oauth_signature=" in u and "oauth_nonce=" in u for u in urls)


def test_a_query_oauthlib_cannot_decode_is_refused_as_client_sign_refuses_it() -> None:
    url = "http://shop.test/wp-json/wc/v3/products?a=<b>"
    auth = WooCommerceOAuth1(KEY, SECRET)
    reference = Client(KEY, client_secret=SECRET, signature_method=SIGNATURE_HMAC_SHA256)
    reference.signature_type = SIGNATURE_TYPE_QUERY
    with pytest.raises(ValueError):
        reference.sign(url)
    with pytest.raises(ValueError):
        auth.sign_url(url, "GET")


def test_no_debug_log_record_holds_the_oauth_signature_or_the_consumer_key(caplog: pytest.LogCaptureFixture) -> None:
    """Prevents urllib3's DEBUG record of each request (its URL, query included) from carrying a WooCommerce call's
    consumer key and OAuth signature into the logs of a user running with DEBUG logging (review 5)."""
    import logging

    from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
    from ecom_pipeline_tests.local_http import QuietHandler, serving

    class Ok(QuietHandler):
        def do_GET(self) -> None:
            self.send_body(200, b"[]")

    caplog.set_level(logging.DEBUG)
    with serving(Ok) as url:
        woo = WooCommerceClient(url, "ck_CONSUMERKEY", "cs_SECRET", max_retries=0)
        woo.get("products", {"page": 1})
    messages = [record.getMessage() for record in caplog.records]
    assert any("/wp-json/wc/v3/products" in m for m in messages)  # urllib3's record is there, scrubbed
    assert [m for m in messages if "oauth_signature" in m or "ck_CONSUMERKEY" in m or "cs_SECRET" in m] == []
