"""WooCommerce REST authentication, chosen by scheme exactly as the store enforces it.

- HTTPS: HTTP Basic with consumer key / secret (WooCommerce reads them from the Authorization header).
- Plain HTTP: OAuth 1.0a *one-legged*, HMAC-SHA256, every ``oauth_*`` parameter in the query string. The store
  ignores Basic auth on non-SSL requests and answers 401 ``woocommerce_rest_cannot_view`` as if anonymous (see
  recording ``errors-401-basic-auth-over-plain-http.json``), so Basic over HTTP is never an option.

The OAuth signature covers the exact query string that is sent: we sign the URL requests has already prepared
(params encoded) and replace it with the signed URL. The auth object is applied on every attempt, so a retry or
the next page always carries a fresh nonce and timestamp (WooCommerce rejects a reused nonce and timestamps older
than 15 minutes).
"""

from __future__ import annotations

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY, Client
from requests.auth import AuthBase, HTTPBasicAuth


class WooCommerceOAuth1(AuthBase):
    """One-legged OAuth 1.0a (no token), HMAC-SHA256, parameters in the query string."""

    def __init__(self, consumer_key: str, consumer_secret: str) -> None:
        # One client for all requests: oauthlib draws a fresh nonce and timestamp on every sign() when none is
        # fixed, and building a Client per request was measurable in full syncs.
        self._client = Client(
            consumer_key,
            client_secret=consumer_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            signature_type=SIGNATURE_TYPE_QUERY,
        )

    def __repr__(self) -> str:
        return "WooCommerceOAuth1(consumer_key=<redacted>)"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        # The JSON body is not part of an OAuth 1.0a signature (only form-encoded bodies are), so sign without it.
        signed_url, _headers, _body = self._client.sign(request.url or "", http_method=request.method or "GET")
        request.url = signed_url
        return request


class WooCommerceBasicAuth(HTTPBasicAuth):
    """HTTP Basic over TLS, with a repr that does not print the secret (HTTPBasicAuth keeps it in attributes)."""

    def __repr__(self) -> str:
        return "WooCommerceBasicAuth(<redacted>)"


def auth_for(base_url: str, consumer_key: str, consumer_secret: str) -> AuthBase:
    """The auth the store will accept for this URL scheme."""
    if base_url.lower().startswith("https://"):
        return WooCommerceBasicAuth(consumer_key, consumer_secret)
    return WooCommerceOAuth1(consumer_key, consumer_secret)


__all__ = ["WooCommerceBasicAuth", "WooCommerceOAuth1", "auth_for"]
