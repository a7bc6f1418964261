"""What connecting a shop yields, for every platform: the CLI and the UI store it as an integration.

Each platform's ``connect`` checks the credentials against the real shop before anything is saved, so a typo
never becomes a failing schedule; it raises a ``ShopApiError`` (with what to do) when the shop says no, and a
``ConnectUsageError`` when the arguments themselves are wrong.
"""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit


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
    from ecom_pipeline.tenants import TENANT_RULE, tenant_argument

    parser.add_argument(
        "--tenant", required=True, type=tenant_argument, help=f"Tenant (merchant) id, e.g. acme: {TENANT_RULE}."
    )
    parser.add_argument("--url", required=True, help="The shop's URL, e.g. https://shop.example.com.")
    parser.add_argument("--name", default=None, help="A label for the shop (default: its host).")
    parser.add_argument("--ca-bundle", default=None, help="PEM file of the CA that signed the shop's TLS certificate.")
    parser.add_argument("--insecure", action="store_true", help="Do not verify the shop's TLS certificate.")
    parser.add_argument("--timeout", type=float, default=20.0, help="Seconds to wait for the shop (default 20).")
    parser.add_argument(
        "--webhook-url",
        default=None,
        help="Public base URL of `ecom-pipeline serve-webhooks` (e.g. https://hooks.example.com): registers the "
        "shop's webhooks there, each signed with a secret generated for this shop. WooCommerce delivers only to "
        "ports 80, 443 and 8080.",
    )
    parser.add_argument(
        "--force-webhook-port",
        action="store_true",
        help="Register --webhook-url even on a port the platform does not deliver to (a shop that allows more "
        "ports, or an emulated one).",
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


# --- URLs given at connect ---------------------------------------------------------------------------------------


def connect_rules(platform: str) -> Any:
    """The platform's optional connect rules (``PlatformSpec.connect_rules``: URL and webhook delivery rules), None
    when it has none or the platform is unknown."""
    from ecom_pipeline.platforms.registry import platforms

    spec = platforms().get(platform)
    return spec.connect_rules if spec is not None else None


def _split(url: str, what: str, example: str) -> SplitResult:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ConnectUsageError(f"{what} {url!r} contains spaces or control characters; give it as e.g. {example}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parses the port, raising ValueError when it is not a number in range
    except ValueError as exc:
        raise ConnectUsageError(f"{what} {url!r} is not a valid URL ({exc}); give it as e.g. {example}") from None
    return parts


def check_shop_url(url: str, *, platform: str | None = None) -> str:
    """The shop URL, normalized (lowercase scheme, no trailing '/'), or ``ConnectUsageError`` saying what is wrong.

    Checked before any request, so a typo is a one-line usage error instead of a traceback from deep inside
    requests or oauthlib: the scheme must be http or https (``javascript:``, ``ftp:`` or no scheme are refused),
    there must be a host, and no user:password (credentials are given with their own options and stored
    encrypted) and no query or fragment (API paths are appended to this URL). A platform whose addresses are
    plain host names (e.g. ``acme.myshopify.com``) says so with ``BARE_HOST_SCHEME`` in its connect_rules.
    """
    example = "https://shop.example.com"
    url = url.strip()
    rules = connect_rules(platform) if platform else None
    bare_host_scheme = getattr(rules, "BARE_HOST_SCHEME", None)
    if url and "://" not in url and bare_host_scheme and ":" not in url.split("/", 1)[0]:
        url = f"{bare_host_scheme}://{url}"
    parts = _split(url, "the shop URL", example)
    scheme = parts.scheme.lower()
    if "://" not in url:
        # urlsplit reads "shop.example.com:8080" as scheme "shop.example.com": a dotted "scheme" is a host.
        if scheme in ("http", "https"):
            raise ConnectUsageError(f"the shop URL {url!r} has no host; give it as e.g. {example}")
        if scheme and "." not in scheme and scheme != "localhost":
            raise ConnectUsageError(
                f"the shop URL {url!r} uses the {scheme}: scheme; only http:// and https:// shop URLs can be connected"
            )
        raise ConnectUsageError(f"the shop URL {url!r} has no scheme; give it as e.g. https://{url.lstrip('/')}")
    if scheme not in ("http", "https"):
        raise ConnectUsageError(
            f"the shop URL {url!r} uses the {scheme}: scheme; only http:// and https:// shop URLs can be connected"
        )
    if not parts.hostname:
        raise ConnectUsageError(f"the shop URL {url!r} has no host; give it as e.g. {example}")
    if parts.username is not None or parts.password is not None:
        raise ConnectUsageError(
            "the shop URL contains a user name or password; give the URL without them and the credentials with "
            "their own options (see --help), so they are stored encrypted"
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConnectUsageError(
            f"the shop URL {url!r} has a query or fragment; give the shop's address only, e.g. {example}"
        )
    return f"{scheme}://{parts.netloc}{parts.path}".rstrip("/")


def check_webhook_url(url: str) -> str:
    """The receiver's base URL, normalized, or ``ConnectUsageError`` (same rules as a shop URL)."""
    example = "https://hooks.example.com"
    url = url.strip()
    parts = _split(url, "--webhook-url", example)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or "://" not in url:
        raise ConnectUsageError(f"--webhook-url {url!r} must be an http:// or https:// URL, e.g. {example}")
    if not parts.hostname:
        raise ConnectUsageError(f"--webhook-url {url!r} has no host; give it as e.g. {example}")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ConnectUsageError(f"--webhook-url {url!r} must be a plain base URL (no user, query or fragment)")
    return f"{scheme}://{parts.netloc}{parts.path}".rstrip("/")


def webhook_port(url: str) -> int:
    """The TCP port a shop connects to for ``url`` (the scheme's default when the URL names none)."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme.lower() == "https" else 80)


def webhook_delivery_problem(platform: str, webhook_url: str, shop_url: str) -> str | None:
    """Why the platform's shops will not deliver to ``webhook_url`` (None when they will, as far as we can tell).

    The rule lives in the platform's ``connect_rules.delivery_problem`` (WooCommerce: WordPress's safe-request
    ports); platforms without one are assumed to deliver anywhere.
    """
    rules = connect_rules(platform)
    check = getattr(rules, "delivery_problem", None)
    return check(webhook_url, shop_url) if check else None


def suggested_webhook_url(platform: str, webhook_url: str) -> str | None:
    """A receiver URL the platform's shops deliver to, close to ``webhook_url`` (None when the platform has none)."""
    suggest = getattr(connect_rules(platform), "suggested_webhook_url", None)
    return suggest(webhook_url) if suggest else None


def is_local_host(host: str | None) -> bool:
    """True for loopback names and addresses (a receiver there is only reachable from this machine)."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def receiver_command(webhook_url: str) -> str:
    """The exact ``serve-webhooks`` command that makes ``webhook_url`` answer on this machine.

    The receiver speaks plain HTTP: behind an https:// URL it runs behind a TLS proxy (any port), so the command
    then names the default port and says so; for http:// it listens on the URL's own port, on every interface
    unless the URL is a loopback one.
    """
    parts = urlsplit(webhook_url)
    host = "127.0.0.1" if is_local_host(parts.hostname) else "0.0.0.0"
    if parts.scheme.lower() == "https":
        return (
            "ecom-pipeline serve-webhooks --host 127.0.0.1 --port 8787  "
            f"(behind a TLS proxy that serves {webhook_url} and forwards to 127.0.0.1:8787)"
        )
    return f"ecom-pipeline serve-webhooks --host {host} --port {webhook_port(webhook_url)}"
