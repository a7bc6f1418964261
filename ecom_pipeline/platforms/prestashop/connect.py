"""Connecting a PrestaShop shop: a webservice key, checked against the shop (and its permissions) before storing.

The time zone matters more than anywhere else: PrestaShop dates are shop-local without offset. The webservice
exposes it as the ``PS_TIMEZONE`` configuration when the key may read ``configurations`` (the recorded key may);
``--timezone`` is then optional and, if given and different, wins with a note. The default language
(``PS_LANG_DEFAULT``) and currency (``PS_CURRENCY_DEFAULT``) are read the same way.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from ecom_pipeline.platforms.connect import ConnectResult, ConnectUsageError, default_name
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.prestashop.client import OPTIONAL_RESOURCES, READ_RESOURCES, PrestaShopClient
from ecom_pipeline.platforms.prestashop.dates import shop_zone
from ecom_pipeline.platforms.prestashop.errors import PrestaShopNotFoundError, PrestaShopPermissionError

API_KEY_ENV = "ECOM_PRESTASHOP_API_KEY"
WEBHOOK_SECRET_ENV = "ECOM_PRESTASHOP_WEBHOOK_SECRET"


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"Webservice key (Advanced Parameters > Webservice). Better: set {API_KEY_ENV}, or omit to be prompted.",
    )
    parser.add_argument(
        "--timezone",
        default=None,
        help="The shop's time zone (IANA, e.g. Europe/Paris). Read from PS_TIMEZONE when the key may read "
        "configurations; required otherwise.",
    )
    parser.add_argument(
        "--language",
        "--language-id",
        dest="language",
        default=None,
        help="Language of names, descriptions, categories and order statuses in the hub: an ISO code (fr) or a "
        "language id (default: the shop's default language, PS_LANG_DEFAULT).",
    )
    parser.add_argument(
        "--shop-id", type=int, default=None, help="Multishop: the id_shop to sync (default: the default shop)."
    )
    parser.add_argument(
        "--webhook-secret",
        default=None,
        help=f"Secret a module on the shop signs its change notices with (POST /webhooks/prestashop/<id>; "
        f"docs/architecture.md). Better: set {WEBHOOK_SECRET_ENV}. Without one, the shop is only polled.",
    )
    parser.add_argument(
        "--poll-interval",
        type=int,
        default=0,
        help="Seconds between polls of this shop; scheduled runs sooner than that are skipped (default 0: every run).",
    )


def _api_key(args: argparse.Namespace) -> str:
    key = getattr(args, "api_key", None) or os.environ.get(API_KEY_ENV)
    if not key:
        if not sys.stdin.isatty():
            raise ConnectUsageError(f"give --api-key, or {API_KEY_ENV} in the environment")
        key = getpass.getpass("PrestaShop webservice key: ")
    return key.strip()


def _config_int(client: PrestaShopClient, name: str) -> int | None:
    value = client.configuration(name)
    return int(value) if value and value.isdigit() else None


def choose_language(
    languages: list[dict[str, Any]], default_id: int | None, wanted: str | None
) -> tuple[int | None, str | None]:
    """(language id, ISO code) to read multilingual fields in: ``wanted`` (ISO code or id) else the default.

    Raises ConnectUsageError naming the shop's languages when ``wanted`` is not one of them.
    """
    by_id = {str(lang.get("id")): str(lang.get("iso_code") or "") for lang in languages if lang.get("id")}
    if wanted:
        key = wanted.strip().lower()
        for lid, iso in by_id.items():
            if key in (lid, iso.lower()):
                return int(lid), iso or None
        if not by_id and key.isdigit():
            return int(key), None  # the key may not read languages: trust the id given
        listed = ", ".join(f"{iso} (id {lid})" for lid, iso in sorted(by_id.items())) or "none readable"
        raise ConnectUsageError(f"--language {wanted}: the shop has no such language; its languages: {listed}")
    if default_id is None:
        return None, None
    return default_id, by_id.get(str(default_id)) or None


def connect(args: argparse.Namespace) -> ConnectResult:
    """Check the key, list what it may not read, discover time zone, language and currency; return what to store."""
    key = _api_key(args)
    if args.poll_interval is not None and args.poll_interval < 0:
        raise ConnectUsageError("--poll-interval must be 0 or more seconds")
    if args.timezone:
        try:
            shop_zone(args.timezone)
        except ValueError as exc:
            raise ConnectUsageError(str(exc)) from None
    options, settings = HttpOptions.from_connect_args(args, max_retries=2)
    url = options.base_url
    notes: list[str] = []
    client = PrestaShopClient(options, key, shop_id=args.shop_id)
    with client:
        facts: dict[str, Any] = client.check_credentials()
        permissions = client.resource_permissions()
        missing = [r for r in READ_RESOURCES if not permissions.get(r, {}).get("get")]
        if missing:
            raise PrestaShopPermissionError(
                f"the key may not read {', '.join(missing)}",
                platform="prestashop",
                url=client.api_root,
                status=401,
                code="26",
            )
        optional_missing = [r for r in OPTIONAL_RESOURCES if not permissions.get(r, {}).get("get")]
        if optional_missing:
            notes.append(
                f"The key may not read {', '.join(optional_missing)}: time zone, language and currency must be given "
                "and variant option names stay empty. Tick GET for them to improve the sync."
            )
        discovered_zone: str | None = None
        default_language: int | None = None
        currency: str | None = None
        languages: list[dict[str, Any]] = []
        if "languages" not in optional_missing:
            languages = client.list("languages", {"display": "[id,iso_code,active]"})
        if "configurations" not in optional_missing:
            default_language = _config_int(client, "PS_LANG_DEFAULT")
            try:
                discovered_zone = client.configuration("PS_TIMEZONE")
                currency_id = _config_int(client, "PS_CURRENCY_DEFAULT")
                if currency_id:
                    currency = str(client.get("currencies", currency_id).get("iso_code") or "") or None
            except (PrestaShopPermissionError, PrestaShopNotFoundError):
                notes.append("The default currency could not be read; orders still carry their own currency.")
    language_id, language = choose_language(languages, default_language, args.language)
    if language_id is None and len(languages) > 1:
        notes.append("The shop's default language could not be read; names are read in its first language.")
    timezone = args.timezone or discovered_zone
    if not timezone:
        raise ConnectUsageError(
            "the shop's time zone could not be read (PS_TIMEZONE): give --timezone, e.g. --timezone Europe/Paris"
        )
    if args.timezone and discovered_zone and args.timezone != discovered_zone:
        notes.append(f"--timezone {args.timezone} differs from the shop's PS_TIMEZONE {discovered_zone}; using yours.")
    settings.update(
        {
            "timezone": timezone,
            "language_id": language_id,
            "language": language,
            "languages": {str(lang.get("id")): lang.get("iso_code") for lang in languages},
            "shop_id": args.shop_id,
            "poll_interval_s": args.poll_interval or 0,
            "currency": currency,
        }
    )
    if args.insecure:
        notes.append("TLS certificate verification is OFF for this shop (--insecure).")
    facts.update({"timezone": timezone, "language_id": language_id, "language": language, "currency": currency})
    credentials = {"api_key": key}
    webhook_secret = getattr(args, "webhook_secret", None) or os.environ.get(WEBHOOK_SECRET_ENV)
    if webhook_secret:
        credentials["webhook_secret"] = webhook_secret.strip()
        notes.append(
            "Change notices: the shop's module posts to /webhooks/prestashop/<integration id>, signed with the "
            "webhook secret (X-Ecom-Timestamp, X-Ecom-Signature); each notice is applied by re-reading the record."
        )
    return ConnectResult(
        base_url=url,
        name=args.name or default_name(url),
        credentials=credentials,
        settings=settings,
        facts={
            k: v for k, v in facts.items() if k in ("psws_version", "timezone", "language_id", "language", "currency")
        },
        notes=tuple(notes),
        auth_description="webservice key (HTTP Basic user, empty password)",
    )
