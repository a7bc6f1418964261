"""Shopify's OAuth install flow, served by the same receiver as the webhooks (it is the public endpoint we have).

``GET /oauth/shopify/install?shop=<name>.myshopify.com&tenant=<tenant>`` redirects the merchant to Shopify's
authorize page; Shopify redirects back to ``GET /oauth/shopify/callback`` with a code, which is checked (HMAC over
the query, our state, the shop domain) and exchanged for an access token; the shop is then stored as an integration
of the tenant, like ``ecom-pipeline connect shopify`` would, with the granted scopes checked and what is missing
said on the page.

The state is stateless and signed (tenant, shop, expiry and a nonce, HMAC-SHA256 with the app's client secret), so
any receiver process can check a callback, without a session store; each nonce is accepted once per process, and
Shopify accepts each code once, so a replayed callback cannot install twice. States expire after ten minutes.

Configuration (environment): ``ECOM_SHOPIFY_CLIENT_ID``, ``ECOM_SHOPIFY_CLIENT_SECRET``, ``ECOM_PUBLIC_URL`` (where
Shopify reaches this receiver, for the redirect URI), optional ``ECOM_SHOPIFY_SCOPES`` and ``ECOM_SHOPIFY_API_VERSION``;
``ECOM_OAUTH_ALLOW_SANDBOX=1`` accepts the local emulator's 127.0.0.1 shops (never set it in production).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ecom_pipeline.platforms.errors import ShopApiError
from ecom_pipeline.platforms.reconnect import carry_over
from ecom_pipeline.platforms.shopify.auth import (
    OAuthCallbackError,
    StaticToken,
    build_authorize_url,
    exchange_code,
    validate_shop_domain,
    verify_callback,
)
from ecom_pipeline.platforms.shopify.client import DEFAULT_API_VERSION, ShopifyClient
from ecom_pipeline.platforms.shopify.connect import missing_scope_notes
from ecom_pipeline.tenants import InvalidTenantError, validate_tenant
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher

STATE_TTL_S = 600
DEFAULT_SCOPES = (
    "read_products",
    "read_inventory",
    "read_locations",
    "read_orders",
    "read_all_orders",
    "read_customers",
)


@dataclass
class ShopifyOAuthConfig:
    """The app's credentials and where Shopify reaches us."""

    client_id: str
    client_secret: str
    public_url: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    api_version: str = DEFAULT_API_VERSION
    allow_sandbox: bool = False
    _used_nonces: dict[str, float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __repr__(self) -> str:  # never print the client secret
        return f"ShopifyOAuthConfig(client_id={self.client_id!r}, public_url={self.public_url!r})"

    @classmethod
    def from_env(cls) -> ShopifyOAuthConfig | None:
        """The configuration from the environment, or None when the install flow is not configured."""
        client_id = os.environ.get("ECOM_SHOPIFY_CLIENT_ID")
        client_secret = os.environ.get("ECOM_SHOPIFY_CLIENT_SECRET")
        public_url = os.environ.get("ECOM_PUBLIC_URL")
        if not (client_id and client_secret and public_url):
            return None
        scopes = os.environ.get("ECOM_SHOPIFY_SCOPES")
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            public_url=public_url.rstrip("/"),
            scopes=tuple(s.strip() for s in scopes.split(",") if s.strip()) if scopes else DEFAULT_SCOPES,
            api_version=os.environ.get("ECOM_SHOPIFY_API_VERSION", DEFAULT_API_VERSION),
            allow_sandbox=os.environ.get("ECOM_OAUTH_ALLOW_SANDBOX") == "1",
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/oauth/shopify/callback"

    # -- signed state ------------------------------------------------------------------------------------------

    def sign_state(self, tenant: str, shop: str, now: float) -> str:
        body = json.dumps({"t": tenant, "s": shop, "e": int(now + STATE_TTL_S), "n": secrets.token_urlsafe(12)})
        payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload)}"

    def open_state(self, state: str, shop: str, now: float) -> tuple[str, str]:
        """(tenant, shop address) the state was issued for; OAuthCallbackError when forged, expired, reused or for
        another shop than the callback's."""
        payload, _, mac = state.partition(".")
        if not payload or not hmac.compare_digest(self._mac(payload), mac):
            raise OAuthCallbackError("the state was not issued by this app (possible forgery)")
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if data["e"] < now:
            raise OAuthCallbackError("the install link expired (10 minutes); start the install again")
        if not self._same_shop(str(data["s"]), shop):
            raise OAuthCallbackError("the callback is for another shop than the install was started for")
        with self._lock:
            for nonce, expiry in list(self._used_nonces.items()):
                if expiry < now:
                    del self._used_nonces[nonce]
            if data["n"] in self._used_nonces:
                raise OAuthCallbackError("this install link was already used")
            self._used_nonces[data["n"]] = data["e"]
        return str(data["t"]), str(data["s"])

    def _same_shop(self, started: str, callback_shop: str) -> bool:
        """The callback names the shop the install started for. Shopify always names ``<name>.myshopify.com``; the
        local emulator is addressed as ``127.0.0.1:<port>/<name>`` but answers as ``<name>.myshopify.com`` too."""
        if started == callback_shop:
            return True
        if self.allow_sandbox and started.startswith(("127.0.0.1", "localhost")):
            return callback_shop == f"{started.rsplit('/', 1)[-1]}.myshopify.com"
        return False

    def _mac(self, payload: str) -> str:
        return hmac.new(self.client_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _shop_url(shop: str) -> str:
    """Sandbox shops (127.0.0.1:port/name) speak plain HTTP; real ones HTTPS."""
    return f"http://{shop}" if shop.startswith(("127.0.0.1", "localhost")) else f"https://{shop}"


def _page(status: int, title: str, lines: list[str]) -> HTMLResponse:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    body = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><ul>{items}</ul>"
    return HTMLResponse(body, status_code=status)


def oauth_routes(
    engine: Engine,
    cipher: CredentialCipher,
    config: ShopifyOAuthConfig,
    *,
    clock: Callable[[], float] = time.time,
) -> list[Route]:
    """The install and callback routes for one warehouse."""

    async def install(request: Request) -> Response:
        tenant = (request.query_params.get("tenant") or "").strip()
        if not tenant:
            return _page(400, "Missing tenant", ["Start the install with ?shop=<name>.myshopify.com&tenant=<id>."])
        try:
            validate_tenant(tenant)  # checked before Shopify is involved, as `ecom-pipeline connect` does
        except InvalidTenantError as exc:
            return _page(400, "Invalid tenant", [str(exc)])
        try:
            shop = validate_shop_domain(request.query_params.get("shop", ""), allow_sandbox=config.allow_sandbox)
        except OAuthCallbackError as exc:
            return _page(400, "Not a Shopify shop", [str(exc)])
        state = config.sign_state(tenant, shop, clock())
        url, _ = build_authorize_url(_shop_url(shop), config.client_id, config.scopes, config.redirect_uri, state=state)
        return RedirectResponse(url, status_code=302)

    def finish(params: dict[str, str]) -> Response:
        try:
            shop = verify_callback(
                params, config.client_secret, params.get("state", ""), allow_sandbox=config.allow_sandbox
            )
            tenant, started_shop = config.open_state(params.get("state", ""), shop, clock())
        except (OAuthCallbackError, ValueError, KeyError) as exc:
            return _page(400, "Install refused", [str(exc)])
        shop_url = _shop_url(started_shop)
        try:
            token = exchange_code(shop_url, config.client_id, config.client_secret, params.get("code", ""))
            with ShopifyClient(shop_url, StaticToken(str(token["access_token"])), api_version=config.api_version) as c:
                facts = c.shop_and_scopes()
        except (ShopApiError, KeyError) as exc:
            return _page(502, "Shopify did not complete the install", [str(exc)])
        scopes = list(facts.get("scopes") or [])
        credentials: dict[str, Any] = {
            "access_token": str(token["access_token"]),
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        }
        settings = {"api_version": config.api_version, "scopes": scopes, "currency": facts.get("currency")}
        with engine.begin() as conn:
            # A reinstall reuses the shop's row: the merchant's sync and stock settings carry over, as on the CLI's
            # reconnect (the webhook secret does not: an app's deliveries are signed with its client secret).
            carry_over(conn, tenant_id=tenant, platform="shopify", base_url=shop_url, settings=settings)
            integration_id = store.create_integration(
                conn,
                tenant_id=tenant,
                platform="shopify",
                name=str(facts.get("name") or shop),
                base_url=shop_url,
                credentials=credentials,
                settings=settings,
                cipher=cipher,
            )
        lines = [f"Shop {shop} is connected to tenant {tenant} as integration #{integration_id}."]
        lines += list(missing_scope_notes(scopes))
        lines.append("The next scheduled sync reads it; or run: ecom-pipeline sync --tenant " + tenant)
        return _page(200, "Shopify shop connected", lines)

    async def callback(request: Request) -> Response:
        return await run_in_threadpool(finish, dict(request.query_params))

    return [
        Route("/oauth/shopify/install", install, methods=["GET"]),
        Route("/oauth/shopify/callback", callback, methods=["GET"]),
    ]


def receiver_routes(
    engine: Engine, cipher: CredentialCipher, clock: Callable[[], float], config: ShopifyOAuthConfig | None
) -> list[Route]:
    """The install flow's routes for the webhook receiver (``WebhookSpec.routes``): served when the app is
    configured, by ``config`` or else the environment (``ECOM_SHOPIFY_CLIENT_ID`` ...); none otherwise."""
    config = config or ShopifyOAuthConfig.from_env()
    return oauth_routes(engine, cipher, config, clock=clock) if config is not None else []
