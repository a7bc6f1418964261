"""Connecting a Shopify shop: an Admin API token (or a client id/secret), checked against the shop before storing.

The check is one 2-point query (``shop`` + ``appInstallation.accessScopes``): it proves the token, learns the shop
currency and plan, and lists the scopes the sync needs but the app was not granted, as notes the user sees at once
(a missing ``read_all_orders`` means only the last 60 days of orders can be read; we say so rather than sync less
silently).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from typing import Any

from ecom_pipeline.platforms.connect import ConnectResult, ConnectUsageError, default_name
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.auth import ClientCredentialsToken, StaticToken, TokenProvider
from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.platforms.shopify.versions import DEFAULT_API_VERSION, version_status

ENV_ACCESS_TOKEN = "ECOM_SHOPIFY_ACCESS_TOKEN"
ENV_CLIENT_SECRET = "ECOM_SHOPIFY_CLIENT_SECRET"


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--access-token",
        default=None,
        help=f"Admin API access token (shpat_...). Better: set {ENV_ACCESS_TOKEN}, or omit it to be prompted.",
    )
    parser.add_argument(
        "--client-id", default=None, help="Client id of a custom app using the client-credentials grant."
    )
    parser.add_argument(
        "--client-secret", default=None, help=f"Its client secret (or {ENV_CLIENT_SECRET}); tokens renew every 24 h."
    )
    parser.add_argument(
        "--api-version",
        default=DEFAULT_API_VERSION,
        help=f"Admin API version to pin (default {DEFAULT_API_VERSION}); later: `ecom-pipeline shopify-upgrade`.",
    )
    parser.add_argument(
        "--webhook-secret",
        default=None,
        help="The app's client secret, which signs webhook deliveries (needed with --access-token and --webhook-url).",
    )
    parser.add_argument(
        "--bulk-threshold",
        type=int,
        default=2000,
        help="Full syncs of shops with more records than this use bulk operations (default 2000).",
    )


def missing_scope_notes(scopes: list[str]) -> tuple[str, ...]:
    """What the granted scopes do not allow, one note per missing capability (empty when everything is granted)."""
    granted = set(scopes)
    # read_X is implied by write_X
    granted |= {s.replace("write_", "read_", 1) for s in scopes if s.startswith("write_")}
    notes: list[str] = []
    for entity, needed in q.SCOPES_REQUIRED.items():
        absent = [s for s in needed if s not in granted]
        if absent:
            notes.append(
                f"Missing scope(s) {', '.join(absent)}: {entity} cannot be synced. Add them to the app's access "
                "scopes, re-install or re-authorize the app, then reconnect."
            )
    if "read_orders" in granted:
        for link, scope in q.ORDER_LINK_SCOPES.items():
            if scope not in granted:
                notes.append(
                    f"Missing scope {scope}: Shopify requires it wherever a {link} appears, so "
                    f"{q.ORDER_LINK_LOSS[link]}. Add it to the app's access scopes and reconnect."
                )
    if q.ALL_ORDERS_SCOPE not in granted:
        notes.append(
            "Missing scope read_all_orders: Shopify only returns orders of the last 60 days, so older orders will not "
            "be synced. Request read_all_orders for the app and reconnect to sync the full order history."
        )
    return tuple(notes)


PROTECTED_DATA_NOTE = (
    "Public (App Store) apps also need Shopify's approval for protected customer data: without level 2 access, "
    "customer names, emails, phones and addresses (on customers and on orders) come back empty or refused. "
    "Custom apps of the shop itself are not affected."
)


def _secret(value: str | None, env: str, prompt: str, what: str) -> str:
    secret = value or os.environ.get(env)
    if secret:
        return secret
    if not sys.stdin.isatty():
        raise ConnectUsageError(f"give {what}, or {env} in the environment")
    return getpass.getpass(prompt)


def connect(args: argparse.Namespace) -> ConnectResult:
    """Check the credentials with one query and return what to store (credentials, settings, notes)."""
    options, settings = HttpOptions.from_connect_args(args, max_retries=2)
    url = options.base_url
    if "://" not in url:
        url = f"https://{url}"
    # The version is pinned at connect (stored in settings); `shopify-upgrade` moves it later.
    api_version = options.api_version or DEFAULT_API_VERSION
    options = options.replace(base_url=url, api_version=api_version)
    settings["api_version"] = api_version
    settings["bulk_threshold"] = getattr(args, "bulk_threshold", 2000)
    credentials: dict[str, Any]
    provider: TokenProvider
    if args.client_id:
        secret = _secret(args.client_secret, ENV_CLIENT_SECRET, "Shopify client secret: ", "--client-secret")
        renewed: dict[str, Any] = {}
        provider = ClientCredentialsToken(
            url,
            args.client_id,
            secret,
            verify=options.verify,
            timeout=args.timeout,
            on_renew=renewed.update,
            clock=time.time,
        )
        auth = "client credentials (24 h tokens renewed automatically)"
    else:
        if args.client_secret:
            raise ConnectUsageError("--client-secret needs --client-id")
        token = _secret(args.access_token, ENV_ACCESS_TOKEN, "Shopify Admin API access token: ", "--access-token")
        provider = StaticToken(token)
        auth = "Admin API access token"
    client = ShopifyClient(options, provider)
    with client:
        facts = client.shop_and_scopes()
    if args.client_id:
        credentials = {"client_id": args.client_id, "client_secret": secret, **renewed}
    else:
        credentials = {"access_token": token}
    if getattr(args, "webhook_secret", None):
        credentials["webhook_secret"] = args.webhook_secret
    settings["currency"] = facts.get("currency")
    settings["scopes"] = facts.get("scopes")
    served = client.served_version
    if served:
        settings["shopify"] = {
            "served_version": served,
            "served_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    notes = list(missing_scope_notes(facts.get("scopes") or []))
    message = version_status(api_version, served).message()
    if message:
        notes.append(message)
    notes.append(PROTECTED_DATA_NOTE)
    if args.insecure:
        notes.append("TLS certificate verification is OFF for this shop (--insecure).")
    return ConnectResult(
        base_url=url,
        name=args.name or facts.get("name") or default_name(url),
        credentials=credentials,
        settings=settings,
        facts={
            "shop": facts.get("name"),
            "currency": facts.get("currency"),
            "plan": facts.get("plan"),
            "scopes": facts.get("scopes"),
        },
        notes=tuple(notes),
        auth_description=auth,
    )


__all__ = [
    "ENV_ACCESS_TOKEN",
    "ENV_CLIENT_SECRET",
    "PROTECTED_DATA_NOTE",
    "add_connect_arguments",
    "connect",
    "missing_scope_notes",
]
