"""What connecting a shop yields, for every platform: the CLI and the UI store it as an integration.

Each platform's ``connect`` checks the credentials against the real shop before anything is saved, so a typo
never becomes a failing schedule; it raises a ``ShopApiError`` (with what to do) when the shop says no, and a
``ConnectUsageError`` when the arguments themselves are wrong.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConnectUsageError(ValueError):
    """The connect arguments are inconsistent or incomplete (exit code 2, nothing contacted)."""


@dataclass(frozen=True)
class ConnectResult:
    """A checked connection, ready to be stored (credentials are encrypted by the caller)."""

    base_url: str
    name: str
    credentials: dict[str, Any]
    settings: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    # Things the user must know now (e.g. TLS verification off, missing scopes that limit what syncs).
    notes: tuple[str, ...] = ()
    auth_description: str = ""


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments every platform's connect takes."""
    parser.add_argument("--tenant", required=True, help="Tenant (merchant) id, e.g. acme.")
    parser.add_argument("--url", required=True, help="The shop's URL, e.g. https://shop.example.com.")
    parser.add_argument("--name", default=None, help="A label for the shop (default: its host).")
    parser.add_argument("--ca-bundle", default=None, help="PEM file of the CA that signed the shop's TLS certificate.")
    parser.add_argument("--insecure", action="store_true", help="Do not verify the shop's TLS certificate.")
    parser.add_argument("--timeout", type=float, default=20.0, help="Seconds to wait for the shop (default 20).")
    parser.add_argument(
        "--webhook-url",
        default=None,
        help="Public base URL of `ecom-pipeline serve-webhooks` (e.g. https://hooks.example.com): registers the "
        "shop's webhooks there, each signed with a secret generated for this shop.",
    )


def tls_settings(args: argparse.Namespace) -> tuple[bool | str, dict[str, Any]]:
    """The ``verify`` value for requests and the settings to store, from --ca-bundle / --insecure."""
    if args.ca_bundle and args.insecure:
        raise ConnectUsageError("--ca-bundle and --insecure exclude each other")
    if args.ca_bundle:
        path = Path(args.ca_bundle)
        if not path.is_file():
            raise ConnectUsageError(f"CA bundle {args.ca_bundle} does not exist")
        return str(path.resolve()), {"ca_bundle": str(path.resolve())}
    if args.insecure:
        return False, {"insecure": True}
    return True, {}


def verify_from_settings(settings: dict[str, Any]) -> bool | str:
    """The ``verify`` value for a stored integration."""
    if settings.get("ca_bundle"):
        return str(settings["ca_bundle"])
    return not settings.get("insecure", False)


def default_name(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")
