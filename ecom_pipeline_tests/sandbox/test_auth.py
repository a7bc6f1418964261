"""Authentication rules of WooCommerce's REST API, as the emulator must enforce them.

A client that only ever talked to a lenient emulator would ship Basic auth over plain HTTP (ignored by the
real shop: every call anonymous) or a subtly wrong OAuth base string (401 on the real shop).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import requests

from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.sandbox.woocommerce.auth import sign_oauth_query
from ecom_pipeline_tests.sandbox.conftest import API, WooClient


def _oauth_get(shop: ShopHandle, params: dict[str, str], **sign: object) -> requests.Response:
    url = f"{shop.http_url}{API}/products"
    opts: dict = {"timestamp": shop.store.now(), "nonce": uuid.uuid4().hex, **sign}
    key = str(opts.pop("key", shop.consumer_key))
    secret = str(opts.pop("secret", shop.consumer_secret))
    return requests.get(url, params=sign_oauth_query("GET", url, params, key, secret, **opts), timeout=10)


def test_basic_auth_over_plain_http_is_ignored(client: WooClient) -> None:
    """Prevents shipping Basic auth over http: the real shop treats it as anonymous (401 cannot_view)."""
    resp = client.get("/products", transport="http", auth="basic")
    assert resp.status_code == 401
    assert resp.json()["code"] == "woocommerce_rest_cannot_view"


def test_https_basic_auth_and_query_credentials_are_accepted(client: WooClient, shop: ShopHandle) -> None:
    """Prevents regressions in the HTTPS path: Basic header and consumer_key/consumer_secret params both work."""
    assert client.get("/products").status_code == 200
    params = {"consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret}
    assert client.get("/products", params, auth="none").status_code == 200


def test_https_wrong_secret_is_an_authentication_error(client: WooClient) -> None:
    """A known key with a wrong secret is a hard 401 (not anonymous), so clients can tell a bad secret apart."""
    resp = client.get("/products", secret="cs_" + "f" * 40)
    assert resp.status_code == 401
    assert resp.json() == {
        "code": "woocommerce_rest_authentication_error",
        "message": "Consumer secret is invalid.",
        "data": {"status": 401},
    }


def test_https_unknown_key_is_anonymous(client: WooClient) -> None:
    """Unknown keys give cannot_view (recorded), not an 'invalid key' message."""
    resp = client.get("/products", key="ck_" + "0" * 40, secret="cs_" + "0" * 40)
    assert (resp.status_code, resp.json()["code"]) == (401, "woocommerce_rest_cannot_view")


def test_oauth1_hmac_sha256_and_sha1_signatures_verify(shop: ShopHandle) -> None:
    """Prevents OAuth base-string bugs: both signature methods WooCommerce accepts must verify."""
    assert _oauth_get(shop, {"per_page": "2"}).status_code == 200
    assert _oauth_get(shop, {"per_page": "2"}, signature_method="HMAC-SHA1").status_code == 200


def test_oauth1_signature_covers_encoded_values(shop: ShopHandle) -> None:
    """modified_after values contain ':' which must be percent-encoded twice in the base string, like WooCommerce."""
    resp = _oauth_get(shop, {"modified_after": "2020-01-01T00:00:00", "orderby": "modified", "search": "a b"})
    assert resp.status_code == 200, resp.text


def test_oauth1_bad_signature_is_rejected(shop: ShopHandle) -> None:
    """A signature made with the wrong secret gets WooCommerce's exact 401."""
    resp = _oauth_get(shop, {"per_page": "2"}, secret="cs_" + "1" * 40)
    assert resp.status_code == 401
    assert resp.json()["message"] == "Invalid signature - provided signature does not match."


def test_oauth1_unknown_key_stale_timestamp_and_replayed_nonce(shop: ShopHandle) -> None:
    """Prevents clients that reuse nonces or sign with a skewed clock from passing the emulator but not the shop."""
    assert _oauth_get(shop, {}, key="ck_" + "2" * 40).json()["message"] == "Consumer key is invalid."
    stale = _oauth_get(shop, {}, timestamp=shop.store.now() - 3600)
    assert (stale.status_code, stale.json()["message"]) == (401, "Invalid timestamp.")
    nonce = uuid.uuid4().hex
    assert _oauth_get(shop, {}, nonce=nonce).status_code == 200
    replay = _oauth_get(shop, {}, nonce=nonce)
    assert (replay.status_code, replay.json()["message"]) == (401, "Invalid nonce - nonce has already been used.")


def test_oauth1_missing_parameter(shop: ShopHandle) -> None:
    """Partial OAuth params are a hard 401 naming what is missing."""
    resp = requests.get(f"{shop.http_url}{API}/products", params={"oauth_consumer_key": shop.consumer_key}, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["code"] == "woocommerce_rest_authentication_missing_parameter"
    assert "oauth_signature" in resp.json()["message"]


def test_oauth1_link_header_echoes_oauth_params(shop: ShopHandle) -> None:
    """As recorded: over http the rel=next URL repeats the request's oauth_* params (a client must re-sign)."""
    resp = _oauth_get(shop, {"per_page": "2"})
    link = resp.headers["Link"]
    assert link.startswith(f"<{shop.http_url}{API}/products?per_page=2&oauth_consumer_key=")
    assert link.endswith('&page=2>; rel="next"')


def test_https_listener_verifies_with_the_ca_bundle(client: WooClient, shop: ShopHandle) -> None:
    """The CA bundle must verify the HTTPS listener, and an unverified client must fail (TLS is real)."""
    assert client.get("/products").status_code == 200
    try:
        requests.get(f"{shop.https_url}{API}/products", timeout=10)
    except requests.exceptions.SSLError:
        pass
    else:  # pragma: no cover
        raise AssertionError("HTTPS verified without the sandbox CA")


def test_oauth1_used_nonces_are_kept_per_second_as_woocommerce_does() -> None:
    """Prevents the emulator from slowing down the longer it runs (every nonce of the window kept and the whole
    set rebuilt on each call: 1.3 -> 2.5 ms a call over one benchmark, which made every sync after the floor meet a
    slower shop): WooCommerce keeps {timestamp: nonce}, one per second, and drops what is older than its window."""
    from ecom_pipeline.sandbox.woocommerce.auth import NONCE_WINDOW_S, WooAuthenticator

    key, secret = "ck_" + "a" * 40, "cs_" + "b" * 40
    auth = WooAuthenticator(key, secret)
    url = "http://127.0.0.1:8080/wp-json/wc/v3/products"
    start = 1_800_000_000

    def call(nonce: str, ts: int, now: int) -> bool:
        signed = sign_oauth_query("GET", url, {}, key, secret, timestamp=ts, nonce=nonce)
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in signed.items())
        return auth.authenticate(
            https=False, method="GET", base_uri=url, raw_query=query, authorization=None, now=now
        ).authenticated

    for i in range(3000):  # 30 calls a second for 100 seconds
        assert call(f"n{i}", start + i // 30, start + i // 30)
    assert len(auth._nonces) == 100  # one a second, not 3,000
    assert not call("n2999", start + 99, start + 99)  # the second's last nonce is a replay
    later = start + 99 + NONCE_WINDOW_S + 1
    assert call("fresh", later, later)
    assert list(auth._nonces) == [later]  # the expired ones dropped
