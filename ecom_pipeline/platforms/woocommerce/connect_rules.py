"""Where a WooCommerce shop will deliver webhooks, and how its addresses are written at connect.

WooCommerce delivers with WordPress's ``wp_safe_remote_request``, whose ``wp_http_validate_url`` accepts only
ports 80, 443 and 8080 (the ``http_allowed_safe_ports`` filter), or the shop's own port on the shop's own host.
A delivery to any other port fails before it leaves the shop, and after seven failed deliveries in a row
WooCommerce disables the webhook (``WC_Webhook::failed_delivery``): registering such a URL looks fine at connect
and silently stops working.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DELIVERY_PORTS: tuple[int, ...] = (80, 443, 8080)


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme.lower() == "https" else 80)


def delivery_problem(webhook_url: str, shop_url: str) -> str | None:
    """Why the shop at ``shop_url`` will not deliver to ``webhook_url``; None when it will (as far as ports go)."""
    port = _port(webhook_url)
    if port in DELIVERY_PORTS:
        return None
    hook_host = (urlsplit(webhook_url).hostname or "").lower()
    shop_host = (urlsplit(shop_url).hostname or "").lower()
    if hook_host and hook_host == shop_host and port == _port(shop_url):
        return None  # WordPress also allows its own host and port
    ports = ", ".join(str(p) for p in DELIVERY_PORTS)
    return (
        f"WooCommerce delivers webhooks only to ports {ports} (WordPress's safe-request rule), not to port {port}: "
        "the shop would fail every delivery and disable the webhooks after seven failures in a row"
    )


def suggested_webhook_url(webhook_url: str) -> str:
    """The same receiver on a port the shop delivers to: 8080 for http (no root needed), 443 for https."""
    parts = urlsplit(webhook_url)
    host = parts.hostname or "HOST"
    host = f"[{host}]" if ":" in host else host
    # https is served by a TLS proxy on 443; plain http goes to the receiver itself on 8080.
    if parts.scheme.lower() == "https":
        return f"https://{host}{parts.path}"
    return f"http://{host}:8080{parts.path}"
