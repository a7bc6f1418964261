"""Shopify Admin API authentication: access tokens, the OAuth install flow, and client-credentials renewal.

Three ways a shop is connected:

- a **static Admin API access token** (``shpat_...``) of a custom app created in the admin: sent as
  ``X-Shopify-Access-Token``, valid until the app is uninstalled;
- the **OAuth authorization-code** install flow of a public/custom app: :func:`build_authorize_url` (with a state
  nonce), then :func:`verify_callback` on the redirect (HMAC of the query, state, shop domain) and
  :func:`exchange_code` for a token;
- the **client-credentials grant** of new Dev Dashboard custom apps, whose tokens expire after 24 h:
  :class:`ClientCredentialsToken` renews the token shortly before expiry and once on a 401, so a sync that crosses
  the expiry does not fail. The renewed token must outlive the process, so it is handed to an ``on_renew`` callback
  for the caller to persist (the credential store), never written from here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import requests
from requests.auth import AuthBase

from ecom_pipeline.platforms.errors import ShopAuthError, ShopUnreachableError, redact_text
from ecom_pipeline.platforms.shopify.errors import PLATFORM, TOKEN_HINT

SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_SANDBOX_HOST_RE = re.compile(r"^127\.0\.0\.1(:\d{1,5})?$")
TOKEN_HEADER = "X-Shopify-Access-Token"
# Renew a client-credentials token this long before it expires (a sync page never straddles the expiry).
RENEW_MARGIN_S = 300.0


class OAuthCallbackError(ValueError):
    """The OAuth redirect cannot be trusted (bad HMAC, state mismatch, foreign shop domain). Never exchange its code."""


class TokenProvider(Protocol):
    """Where the client gets the access token for each attempt, and how it renews it (if it can)."""

    def token(self) -> str: ...

    def can_renew(self) -> bool: ...

    def renew(self) -> str: ...


@dataclass
class StaticToken:
    """A long-lived Admin API access token (custom app or OAuth install). It cannot be renewed by us."""

    access_token: str

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"

    def token(self) -> str:
        return self.access_token

    def can_renew(self) -> bool:
        return False

    def renew(self) -> str:
        raise ShopAuthError(
            "the static access token was refused and cannot be renewed", platform=PLATFORM, hint=TOKEN_HINT
        )


class ClientCredentialsToken:
    """A client-credentials token (24 h lifetime) renewed before expiry and on a 401.

    ``on_renew(credentials)`` receives ``{"access_token", "expires_at", "scope"}`` after each renewal; the caller
    persists it so the next run starts with a valid token instead of renewing again. Thread-safe: concurrent pages
    of one client renew once.
    """

    def __init__(
        self,
        shop_url: str,
        client_id: str,
        client_secret: str,
        *,
        access_token: str | None = None,
        expires_at: float | None = None,
        on_renew: Callable[[dict[str, Any]], None] | None = None,
        verify: bool | str = True,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
        margin_s: float = RENEW_MARGIN_S,
    ) -> None:
        self.shop_url = shop_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._token = access_token
        self.expires_at = expires_at
        self.scope: str | None = None
        self._on_renew = on_renew
        self._verify = verify
        self._timeout = timeout
        self._clock = clock
        self._session = session or requests.Session()
        self._margin = margin_s
        self._lock = threading.Lock()
        self.renewals = 0

    def __repr__(self) -> str:
        return f"ClientCredentialsToken(shop_url={self.shop_url!r}, <redacted>)"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._client_secret, self._token) if s)

    def token(self) -> str:
        with self._lock:
            if self._token is None or (self.expires_at is not None and self._clock() >= self.expires_at - self._margin):
                self._renew_locked()
            assert self._token is not None
            return self._token

    def can_renew(self) -> bool:
        return True

    def renew(self) -> str:
        with self._lock:
            self._renew_locked()
            assert self._token is not None
            return self._token

    def _renew_locked(self) -> None:
        data = request_client_credentials_token(
            self.shop_url,
            self._client_id,
            self._client_secret,
            verify=self._verify,
            timeout=self._timeout,
            session=self._session,
        )
        self._token = str(data["access_token"])
        expires_in = data.get("expires_in")
        self.expires_at = self._clock() + float(expires_in) if isinstance(expires_in, int | float) else None
        self.scope = data.get("scope")
        self.renewals += 1
        if self._on_renew is not None:
            self._on_renew({"access_token": self._token, "expires_at": self.expires_at, "scope": self.scope})


class ShopifyTokenAuth(AuthBase):
    """Sets ``X-Shopify-Access-Token`` from the provider at every attempt (so a renewed token is used on retry)."""

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider

    def __repr__(self) -> str:
        return "ShopifyTokenAuth(<redacted>)"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[TOKEN_HEADER] = self.provider.token()
        return request


# -- OAuth endpoints ------------------------------------------------------------------------------------------------


def _post_token(
    shop_url: str,
    form: Mapping[str, str],
    *,
    verify: bool | str,
    timeout: float,
    session: requests.Session | None,
    secrets_: Sequence[str],
) -> dict[str, Any]:
    """``POST /admin/oauth/access_token`` with ``form``, for both grants; ``secrets_`` never reach an error text."""
    url = f"{shop_url.rstrip('/')}/admin/oauth/access_token"
    session = session or requests.Session()
    try:
        # Never follow a redirect: a 307/308 would send the client secret and the code to wherever it points.
        response = session.post(
            url,
            data=dict(form),
            headers={"Accept": "application/json"},
            verify=verify,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise ShopUnreachableError(
            f"token request failed: {redact_text(str(exc), list(secrets_))}", platform=PLATFORM, method="POST", url=url
        ) from None
    if response.is_redirect:
        raise ShopAuthError(
            f"Shopify answered the token request with a redirect ({response.status_code}), which is not followed: "
            "the credentials would go to another address",
            platform=PLATFORM,
            method="POST",
            url=url,
            status=response.status_code,
            hint="Connect with the shop's own https://<shop>.myshopify.com address, not a custom domain or http://.",
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict) or not body.get("access_token"):
        detail = (
            body.get("error_description") or body.get("error") or body.get("errors") if isinstance(body, dict) else None
        )
        raise ShopAuthError(
            f"Shopify refused the token request ({detail or response.text[:200]})",
            platform=PLATFORM,
            method="POST",
            url=url,
            status=response.status_code,
            hint=(
                "Check the app's client id and secret (Dev Dashboard > app > Settings), that the app is installed on "
                "this shop, and for client credentials that the app and the shop belong to the same organization."
            ),
        )
    return body


def request_client_credentials_token(
    shop_url: str,
    client_id: str,
    client_secret: str,
    *,
    verify: bool | str = True,
    timeout: float = 30.0,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """``POST /admin/oauth/access_token``, ``grant_type=client_credentials``: ``{access_token, scope, expires_in}``."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    return _post_token(shop_url, form, verify=verify, timeout=timeout, session=session, secrets_=(client_secret,))


def exchange_code(
    shop_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    *,
    verify: bool | str = True,
    timeout: float = 30.0,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """Trade the callback's ``code`` for an access token (call only after :func:`verify_callback` succeeded)."""
    form = {"client_id": client_id, "client_secret": client_secret, "code": code}
    return _post_token(shop_url, form, verify=verify, timeout=timeout, session=session, secrets_=(client_secret, code))


# -- OAuth install flow ----------------------------------------------------------------------------------------------


def validate_shop_domain(shop: str, *, allow_sandbox: bool = False) -> str:
    """The shop's ``<name>.myshopify.com`` domain, lower-cased, or OAuthCallbackError.

    Why strict: the ``shop`` parameter of an OAuth redirect decides where we send the client secret and the code;
    anything but a myshopify.com host could be an attacker's server. The local sandbox (``127.0.0.1[:port]``) is
    accepted only when the caller says so explicitly.
    """
    value = (shop or "").strip().lower()
    if SHOP_DOMAIN_RE.match(value):
        return value
    if allow_sandbox and _SANDBOX_HOST_RE.match(value.split("/", 1)[0]):
        return value
    raise OAuthCallbackError(
        f"{shop!r} is not a Shopify shop domain (expected <name>.myshopify.com)"
        + ("" if allow_sandbox else "; the 127.0.0.1 sandbox must be allowed explicitly")
    )


def shop_from_url(url: str) -> str:
    """``https://acme.myshopify.com/`` -> ``acme.myshopify.com``; the sandbox keeps its path (127.0.0.1:8080/acme)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return (parts.netloc + parts.path).rstrip("/").lower()


def new_state() -> str:
    """An unguessable nonce for the ``state`` parameter (stored server-side, compared on the callback)."""
    return secrets.token_urlsafe(24)


def build_authorize_url(
    shop_url: str,
    client_id: str,
    scopes: Sequence[str],
    redirect_uri: str,
    *,
    state: str | None = None,
    online: bool = False,
) -> tuple[str, str]:
    """(authorize URL, state). Redirect the merchant there; keep the state to check the callback with."""
    state = state or new_state()
    params = {"client_id": client_id, "scope": ",".join(scopes), "redirect_uri": redirect_uri, "state": state}
    if online:
        params["grant_options[]"] = "per-user"
    return f"{shop_url.rstrip('/')}/admin/oauth/authorize?{urlencode(params)}", state


def hmac_message(params: Mapping[str, str]) -> str:
    """The signed message: every parameter but ``hmac`` (and legacy ``signature``), sorted, ``k=v`` joined by &."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))


def compute_hmac(params: Mapping[str, str], secret: str) -> str:
    return hmac.new(secret.encode(), hmac_message(params).encode(), hashlib.sha256).hexdigest()


def verify_hmac(params: Mapping[str, str], secret: str) -> bool:
    """True when ``params["hmac"]`` is the hex SHA-256 HMAC of the other params (constant-time comparison)."""
    given = params.get("hmac")
    if not given:
        return False
    return hmac.compare_digest(compute_hmac(params, secret), str(given).lower())


def verify_callback(
    params: Mapping[str, str], client_secret: str, expected_state: str, *, allow_sandbox: bool = False
) -> str:
    """Check an OAuth redirect's query: HMAC, state and shop domain. Returns the shop domain; raises otherwise.

    Order matters: the HMAC first (nothing else in an unsigned query is trustworthy), then the state (our own
    request, not a replay or a forged install), then the shop (where the code will be sent).
    """
    if not verify_hmac(params, client_secret):
        raise OAuthCallbackError("the callback's hmac does not match its parameters (not sent by Shopify)")
    if not expected_state or not hmac.compare_digest(str(params.get("state", "")), expected_state):
        raise OAuthCallbackError("the callback's state does not match the one we issued (possible forgery)")
    return validate_shop_domain(str(params.get("shop", "")), allow_sandbox=allow_sandbox)


__all__ = [
    "RENEW_MARGIN_S",
    "SHOP_DOMAIN_RE",
    "TOKEN_HEADER",
    "ClientCredentialsToken",
    "OAuthCallbackError",
    "ShopifyTokenAuth",
    "StaticToken",
    "TokenProvider",
    "build_authorize_url",
    "compute_hmac",
    "exchange_code",
    "hmac_message",
    "new_state",
    "request_client_credentials_token",
    "shop_from_url",
    "validate_shop_domain",
    "verify_callback",
    "verify_hmac",
]
