"""Shopify app credentials: authorization-code OAuth, client-credentials grant, access tokens.

- ``GET /admin/oauth/authorize?client_id&scope&redirect_uri&state`` approves at once (no merchant login) and
  redirects 302 to ``redirect_uri`` with ``code``, ``hmac``, ``host``, ``shop``, ``state``, ``timestamp``;
  ``hmac`` is the hex HMAC-SHA256, keyed with the client secret, of the other parameters sorted by name and
  joined as ``k=v&k=v`` (Shopify's scheme; checked against its published test vectors).
- ``POST /admin/oauth/access_token`` exchanges a code (single use, valid 10 minutes of clock time) for an
  offline token ``{"access_token", "scope"}``, or with ``grant_type=client_credentials`` issues a token valid
  24 h of clock time ``{"access_token", "scope", "expires_in": 86399}``.
- The token in ``ShopHandle.credentials["access_token"]`` is a never-expiring offline token with the shop's
  configured scopes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from ecom_pipeline.sandbox.clock import SandboxClock

DEFAULT_SCOPES = (
    "read_products",
    "read_inventory",
    "read_locations",
    "read_orders",
    "read_all_orders",
    "read_customers",
)
TOKEN_TTL_S = 86_400
CODE_TTL_S = 600


def _escape(text: str, key: bool) -> str:
    text = text.replace("%", "%25").replace("&", "%26")
    return text.replace("=", "%3D") if key else text


def oauth_message(params: dict[str, str]) -> str:
    """The string Shopify signs: every parameter but ``hmac``/``signature``, sorted, ``k=v`` joined by ``&``."""
    items = sorted((k, v) for k, v in params.items() if k not in ("hmac", "signature"))
    return "&".join(f"{_escape(k, True)}={_escape(v, False)}" for k, v in items)


def sign_oauth_params(params: dict[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 of :func:`oauth_message` keyed with the client secret."""
    return hmac.new(secret.encode(), oauth_message(params).encode(), hashlib.sha256).hexdigest()


def verify_oauth_params(params: dict[str, str], secret: str) -> bool:
    return hmac.compare_digest(sign_oauth_params(params, secret), params.get("hmac", ""))


def credentials_for(name: str, seed: int) -> dict[str, str]:
    """Deterministic app credentials for a shop: offline access token, client id and client secret."""
    digest = hashlib.sha256(f"shopify:{name}:{seed}".encode()).hexdigest()
    return {
        "access_token": f"shpat_{digest[:32]}",
        "client_id": digest[32:64],
        "client_secret": f"shpss_{hashlib.sha256(digest.encode()).hexdigest()[:32]}",
    }


@dataclass
class Token:
    scopes: tuple[str, ...]
    expires_at: float | None


class OAuthServer:
    """Codes and tokens of one shop (one app)."""

    def __init__(self, shop_name: str, seed: int, scopes: tuple[str, ...], clock: SandboxClock) -> None:
        self.shop_name = shop_name
        self.domain = f"{shop_name}.myshopify.com"
        self.credentials = credentials_for(shop_name, seed)
        self.scopes = scopes
        self.clock = clock
        self.tokens: dict[str, Token] = {self.credentials["access_token"]: Token(scopes, None)}
        self.codes: dict[str, tuple[tuple[str, ...], float]] = {}
        self._counter = 0

    @property
    def client_secret(self) -> str:
        return self.credentials["client_secret"]

    def _mint(self, prefix: str) -> str:
        self._counter += 1
        raw = f"{self.credentials['client_secret']}:{prefix}:{self._counter}:{self.clock.time()}"
        return prefix + hashlib.sha256(raw.encode()).hexdigest()[:32]

    def token_scopes(self, token: str | None) -> tuple[str, ...] | None:
        """The scopes of a valid token, or None (unknown or expired)."""
        entry = self.tokens.get(token or "")
        if entry is None or (entry.expires_at is not None and self.clock.time() >= entry.expires_at):
            return None
        return entry.scopes

    def authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """(status, redirect location or error message) for the authorize endpoint."""
        if params.get("client_id") != self.credentials["client_id"]:
            return 400, "Oauth error invalid_request: The client_id is invalid"
        redirect = params.get("redirect_uri")
        if not redirect:
            return 400, "Oauth error invalid_request: The redirect_uri is missing"
        requested = tuple(s.strip() for s in params.get("scope", "").split(",") if s.strip()) or self.scopes
        code = self._mint("")
        self.codes[code] = (requested, self.clock.time() + CODE_TTL_S)
        query = {
            "code": code,
            "host": base64.b64encode(f"admin.shopify.com/store/{self.shop_name}".encode()).decode().rstrip("="),
            "shop": self.domain,
            "timestamp": str(self.clock.seconds()),
        }
        if "state" in params:
            query["state"] = params["state"]
        query["hmac"] = sign_oauth_params(query, self.client_secret)
        from urllib.parse import urlencode

        sep = "&" if "?" in redirect else "?"
        return 302, f"{redirect}{sep}{urlencode(query)}"

    def access_token(self, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        """(status, JSON body) for the access_token endpoint."""
        if form.get("client_id") != self.credentials["client_id"] or form.get("client_secret") != self.client_secret:
            return 400, {
                "error": "invalid_client",
                "error_description": "Client authentication failed due to unknown client, no client authentication "
                "included, or unsupported authentication method.",
            }
        if form.get("grant_type") == "client_credentials":
            token = self._mint("shpat_")
            self.tokens[token] = Token(self.scopes, self.clock.time() + TOKEN_TTL_S)
            return 200, {"access_token": token, "scope": ",".join(self.scopes), "expires_in": TOKEN_TTL_S - 1}
        code = form.get("code", "")
        entry = self.codes.pop(code, None)
        if entry is None or self.clock.time() > entry[1]:
            return 400, {
                "error": "invalid_request",
                "error_description": "The authorization code was not found or was already used",
            }
        token = self._mint("shpat_")
        self.tokens[token] = Token(entry[0], None)
        return 200, {"access_token": token, "scope": ",".join(entry[0])}
