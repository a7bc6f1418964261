"""WooCommerce REST authentication, as ``WC_REST_Authentication`` does it.

- HTTPS: ``consumer_key``/``consumer_secret`` query params, else HTTP Basic. An unknown key leaves the request
  anonymous (401 ``woocommerce_rest_cannot_view`` later); a known key with a wrong secret is 401
  ``woocommerce_rest_authentication_error`` "Consumer secret is invalid.".
- Plain HTTP: Basic is ignored; OAuth 1.0a one-legged (HMAC-SHA1/SHA256) parameters in the query string (or an
  ``Authorization: OAuth`` header). Unknown key, bad signature, stale timestamp (15 min window) and reused nonce
  are 401 ``woocommerce_rest_authentication_error`` with WooCommerce's messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from ecom_pipeline.sandbox.woocommerce.errors import StoreError

OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
NONCE_WINDOW_S = 15 * 60


def credentials_for(name: str, seed: int) -> tuple[str, str]:
    """Deterministic ``ck_<40 hex>`` / ``cs_<40 hex>`` for a shop, so test fixtures can be written down."""
    ck = hashlib.sha1(f"ck:{name}:{seed}".encode()).hexdigest()
    cs = hashlib.sha1(f"cs:{name}:{seed}".encode()).hexdigest()
    return f"ck_{ck}", f"cs_{cs}"


def hmac_signature(method_name: str, base_string: str, consumer_secret: str) -> str:
    """base64(HMAC(key=secret + "&", base string)): WooCommerce's key has no token secret and no escaping."""
    digest = hashlib.sha256 if method_name == "HMAC-SHA256" else hashlib.sha1
    mac = hmac.new(f"{consumer_secret}&".encode(), base_string.encode(), digest).digest()
    return base64.b64encode(mac).decode()


def auth_error(message: str) -> StoreError:
    return StoreError(401, "woocommerce_rest_authentication_error", message)


@dataclass
class AuthResult:
    """``authenticated`` False means anonymous; ``error`` is a hard 401 raised before routing."""

    authenticated: bool
    error: StoreError | None = None


class WooAuthenticator:
    """Checks one request against the shop's single API key (read/write)."""

    def __init__(self, consumer_key: str, consumer_secret: str) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        # WooCommerce keeps the used nonces as {timestamp: nonce} (WC_REST_Authentication::
        # check_oauth_timestamp_and_nonce): one per second, a later request of the same second replacing it, the
        # expired ones dropped. A set of every nonce rebuilt on each call grew with the calls answered and made the
        # emulator slower the longer it ran (1.3 -> 2.5 ms a call over a benchmark), unlike the shop.
        self._nonces: dict[int, str] = {}
        self._pruned_at = 0
        self._lock = threading.Lock()

    def authenticate(
        self,
        *,
        https: bool,
        method: str,
        base_uri: str,
        raw_query: str,
        authorization: str | None,
        now: int,
    ) -> AuthResult:
        """``base_uri`` is scheme://host[:port]/path as the client addressed it (used in the OAuth base string)."""
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        if https:
            return self._basic(query, authorization)
        return self._oauth(query, raw_query, method, base_uri, authorization, now)

    def _basic(self, query: dict[str, str], authorization: str | None) -> AuthResult:
        key = query.get("consumer_key", "")
        secret = query.get("consumer_secret", "")
        if not (key and secret) and authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            key, _, secret = decoded.partition(":")
        if not key or not secret:
            return AuthResult(False)
        if not hmac.compare_digest(key, self.consumer_key):
            return AuthResult(False)
        if not hmac.compare_digest(secret, self.consumer_secret):
            return AuthResult(False, auth_error("Consumer secret is invalid."))
        return AuthResult(True)

    def _oauth(
        self,
        query: dict[str, str],
        raw_query: str,
        method: str,
        base_uri: str,
        authorization: str | None,
        now: int,
    ) -> AuthResult:
        params = dict(query)
        if authorization and authorization.startswith("OAuth "):
            for k, v in oauth_signature.collect_parameters(headers={"Authorization": authorization}, with_realm=False):
                params[k] = v
        missing = [p for p in OAUTH_PARAMS if not params.get(p)]
        if len(missing) == len(OAUTH_PARAMS):
            return AuthResult(False)
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            return AuthResult(
                False,
                StoreError(
                    401,
                    "woocommerce_rest_authentication_missing_parameter",
                    f"Missing OAuth {noun} {', '.join(missing)}",
                ),
            )
        if not hmac.compare_digest(params["oauth_consumer_key"], self.consumer_key):
            return AuthResult(False, auth_error("Consumer key is invalid."))
        method_name = params["oauth_signature_method"]
        if method_name not in ("HMAC-SHA1", "HMAC-SHA256"):
            return AuthResult(False, auth_error("Invalid signature - signature method is invalid."))
        provided = unquote(params["oauth_signature"].replace(" ", "+"))
        # WooCommerce signs every request parameter except oauth_signature, keys sorted, RFC 3986 encoded:
        # exactly the RFC 5849 base string, which oauthlib builds.
        pairs = [(k, v) for k, v in params.items() if k != "oauth_signature"]
        normalized = oauth_signature.normalize_parameters(pairs)
        base_string = oauth_signature.signature_base_string(method.upper(), base_uri, normalized)
        expected = hmac_signature(method_name, base_string, self.consumer_secret)
        if not hmac.compare_digest(expected, provided):
            return AuthResult(False, auth_error("Invalid signature - provided signature does not match."))
        try:
            timestamp = int(params["oauth_timestamp"])
        except ValueError:
            timestamp = 0
        if timestamp < now - NONCE_WINDOW_S or timestamp > now + NONCE_WINDOW_S:
            return AuthResult(False, auth_error("Invalid timestamp."))
        nonce = params["oauth_nonce"]
        with self._lock:
            if nonce in self._nonces.values():  # PHP's in_array over the kept nonces
                return AuthResult(False, auth_error("Invalid nonce - nonce has already been used."))
            self._nonces[timestamp] = nonce
            if now != self._pruned_at:  # the same expiry as WooCommerce's, at most once a second
                self._pruned_at = now
                self._nonces = {ts: n for ts, n in self._nonces.items() if ts >= now - NONCE_WINDOW_S}
        return AuthResult(True)


def sign_oauth_query(
    method: str,
    url: str,
    params: dict[str, str],
    consumer_key: str,
    consumer_secret: str,
    *,
    timestamp: int,
    nonce: str,
    signature_method: str = "HMAC-SHA256",
) -> dict[str, str]:
    """Client-side helper for tests: ``params`` plus signed ``oauth_*`` params for a query-string request."""
    signed = dict(params)
    signed.update(
        {
            "oauth_consumer_key": consumer_key,
            "oauth_timestamp": str(timestamp),
            "oauth_nonce": nonce,
            "oauth_signature_method": signature_method,
        }
    )
    normalized = oauth_signature.normalize_parameters(list(signed.items()))
    base_string = oauth_signature.signature_base_string(method.upper(), url, normalized)
    signed["oauth_signature"] = hmac_signature(signature_method, base_string, consumer_secret)
    return signed
