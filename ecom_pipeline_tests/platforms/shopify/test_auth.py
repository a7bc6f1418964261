"""OAuth callback verification, shop domain validation and client-credentials token renewal."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.auth import (
    ClientCredentialsToken,
    OAuthCallbackError,
    build_authorize_url,
    hmac_message,
    validate_shop_domain,
    verify_callback,
    verify_hmac,
)
from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.platforms.shopify.connect import missing_scope_notes
from ecom_pipeline_tests.platforms.shopify.conftest import connection, product_node
from ecom_pipeline_tests.platforms.shopify.stub_server import FIXTURES, FakeClock, GraphQLStub, StubServer

VECTORS = json.loads((FIXTURES / "oauth_callback_hmac_test_vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["hmac_hex"][:8])
def test_callback_hmac_matches_the_documented_vectors(vector: dict) -> None:
    """Prevents accepting forged OAuth callbacks (or refusing Shopify's own) through a wrong HMAC message."""
    params = {**vector["query"], "hmac": vector["hmac_hex"]}
    assert hmac_message(params) == vector["message"]
    assert verify_hmac(params, vector["secret"])
    assert not verify_hmac({**params, "shop": "evil.myshopify.com"}, vector["secret"])
    assert not verify_hmac(params, "wrong-secret")


def test_verify_callback_checks_state_and_shop_domain() -> None:
    """Prevents CSRF installs (state) and sending the code/secret to a non-Shopify host (shop domain)."""
    vector = VECTORS[2]  # the one carrying a state
    params = {**vector["query"], "hmac": vector["hmac_hex"]}
    assert verify_callback(params, "hush", vector["query"]["state"]) == "some-shop.myshopify.com"
    with pytest.raises(OAuthCallbackError, match="state"):
        verify_callback(params, "hush", "another-state")
    with pytest.raises(OAuthCallbackError, match="hmac"):
        verify_callback({**params, "hmac": "0" * 64}, "hush", vector["query"]["state"])


@pytest.mark.parametrize(
    "shop", ["evil.com", "a.myshopify.com.evil.com", "-x.myshopify.com", "x.myshopify.com/path", "127.0.0.1:9000"]
)
def test_shop_domain_validation_refuses_foreign_hosts(shop: str) -> None:
    """Prevents an attacker-controlled ``shop`` parameter from redirecting the token exchange."""
    with pytest.raises(OAuthCallbackError):
        validate_shop_domain(shop)


def test_sandbox_host_is_accepted_only_when_explicitly_allowed() -> None:
    """Prevents the sandbox exception from weakening validation in production."""
    assert validate_shop_domain("127.0.0.1:9000/acme", allow_sandbox=True) == "127.0.0.1:9000/acme"
    assert validate_shop_domain("Acme-Shop.myshopify.com") == "acme-shop.myshopify.com"


def test_authorize_url_carries_scopes_redirect_and_a_fresh_state() -> None:
    """Prevents installs without a state nonce (CSRF) or with the wrong scopes."""
    url, state = build_authorize_url(
        "https://acme.myshopify.com", "client123", ["read_products", "read_orders"], "https://app.example/cb"
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://acme.myshopify.com/admin/oauth/authorize?")
    assert query["scope"] == ["read_products,read_orders"]
    assert query["state"] == [state] and len(state) >= 24
    assert build_authorize_url("https://a.myshopify.com", "c", [], "https://x")[1] != state


def test_client_credentials_token_renews_before_expiry_and_on_401_without_failing_the_sync(
    stub: GraphQLStub, clock: FakeClock
) -> None:
    """Prevents a sync crossing the 24 h token expiry from failing, and the renewed token from being lost."""
    stub.tokens = set()
    pages = {
        None: connection([product_node(1, [])], True, "c1"),
        "c1": connection([product_node(2, [])], True, "c2"),
        "c2": connection([product_node(3, [])]),
    }

    def products(variables: dict, _headers: dict) -> dict:
        if variables["after"] is None:
            clock.sleep(86_400)  # a day passes mid-sync: the token expires before the next page
        if variables["after"] == "c1":
            stub.tokens.clear()  # and the shop revokes the renewed one early: the next page gets a 401
        return {"products": pages[variables["after"]]}

    stub.on("products(", products)
    persisted: list[dict] = []
    with StubServer(stub) as server:
        provider = ClientCredentialsToken(
            server.url, "client", "cs_secret", on_renew=persisted.append, clock=clock.time
        )
        with ShopifyClient(server.url, provider, sleep=clock.sleep, clock=clock.time) as client:
            ids = [
                n["legacyResourceId"]
                for page in client.paginate(q.PRODUCTS_QUERY, ("products",), {"first": 1, "variantsFirst": 1})
                for n in page.nodes
            ]
    assert ids == ["1", "2", "3"]
    # 1: first use, 2: renewed before expiry (no failed call), 3: renewed once on the 401.
    assert provider.renewals == 3
    assert [p["access_token"] for p in persisted] == ["shpat_cc_1", "shpat_cc_2", "shpat_cc_3"]
    assert persisted[-1]["expires_at"] == pytest.approx(clock.time() + 86399)
    tokens_sent = [r["headers"]["x-shopify-access-token"] for r in stub.requests if "body" in r]
    assert tokens_sent == ["shpat_cc_1", "shpat_cc_2", "shpat_cc_2", "shpat_cc_3"]
    grants = [r for r in stub.requests if r["path"].endswith("/admin/oauth/access_token")]
    assert grants[0]["form"]["grant_type"] == "client_credentials"


def test_missing_scopes_are_named_with_the_60_day_order_limit() -> None:
    """Prevents silently syncing fewer orders (60 days) or nothing at all (no read_inventory) without saying so."""
    notes = missing_scope_notes(["read_products", "read_orders", "write_customers"])
    text = "\n".join(notes)
    assert "read_inventory" in text and "read_locations" in text and "inventory cannot be synced" in text
    assert "read_all_orders" in text and "60 days" in text
    assert "read_customers" not in text  # implied by write_customers
    assert (
        missing_scope_notes(
            ["read_products", "read_orders", "read_all_orders", "read_inventory", "read_locations", "read_customers"]
        )
        == ()
    )


def test_a_token_request_answered_with_a_redirect_is_not_followed() -> None:
    """Prevents a 307/308 from the shop's address re-posting the client secret to wherever it points (requests
    follows redirects by default, keeping the body for 307/308)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ecom_pipeline.platforms.errors import ShopAuthError
    from ecom_pipeline.platforms.shopify.auth import request_client_credentials_token

    received: list[bytes] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"access_token": "stolen"}')

        def log_message(self, *args: object) -> None:
            pass

    elsewhere = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    target = f"http://127.0.0.1:{elsewhere.server_address[1]}/collect"

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    shop = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    servers = [elsewhere, shop]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ShopAuthError, match="redirect") as caught:
            request_client_credentials_token(
                f"http://127.0.0.1:{shop.server_address[1]}", "client-id", "the-client-secret", timeout=5
            )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert received == []
    assert "the-client-secret" not in str(caught.value)
