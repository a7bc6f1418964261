"""Connecting a WooCommerce shop: REST API keys, checked against the shop before they are stored."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from ecom_pipeline.platforms.connect import ConnectResult, ConnectUsageError, default_name
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--consumer-key", required=True, help="WooCommerce REST API consumer key (ck_...).")
    parser.add_argument(
        "--consumer-secret",
        default=None,
        help="Consumer secret (cs_...). Better: set ECOM_CONSUMER_SECRET, or omit it to be prompted.",
    )
    parser.add_argument("--api-version", default="wc/v3", help="REST API namespace (default wc/v3).")


def connect(args: argparse.Namespace) -> ConnectResult:
    """Check the keys with one cheap call and return what to store."""
    secret = args.consumer_secret or os.environ.get("ECOM_CONSUMER_SECRET")
    if not secret:
        if not sys.stdin.isatty():
            raise ConnectUsageError("give --consumer-secret, or ECOM_CONSUMER_SECRET in the environment")
        secret = getpass.getpass("WooCommerce consumer secret: ")
    options, settings = HttpOptions.from_connect_args(args, max_retries=2)
    url = options.base_url
    client = WooCommerceClient(options, args.consumer_key, secret)
    with client:
        facts = client.check_credentials()
    notes: tuple[str, ...] = ()
    if args.insecure:
        notes = ("TLS certificate verification is OFF for this shop (--insecure).",)
    auth = "HTTP Basic over HTTPS" if url.startswith("https://") else "OAuth 1.0a signatures (plain HTTP)"
    return ConnectResult(
        base_url=url,
        name=args.name or default_name(url),
        credentials={"consumer_key": args.consumer_key, "consumer_secret": secret},
        settings=settings,
        facts={k: v for k, v in facts.items() if k in ("total_products", "auth")},
        notes=notes,
        auth_description=auth,
    )
