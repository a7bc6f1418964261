"""What connecting a shop again keeps from its previous connection (the CLI's ``connect`` and Shopify's OAuth install).

A reconnect reuses the shop's ``integrations`` row and replaces its settings and credentials with what the new
connect produced (``store.create_integration``). What the shop reports (currency, scopes, the API version) is
rightly replaced; what the merchant chose is ours, not the shop's, and must survive a new token or a reinstall:

- the sync settings (``sync.policies.SETTING_KEYS``: direction, conflict policies, listing rules, price rule, bulk
  mutation threshold, push concurrency, Shopify collections), the stock settings (``stock.settings``: stock sync,
  buffer, location map) and the reconciliation interval, unless the new connect sets them itself;
- the stored ``webhook_secret`` when the new credentials bring none: a Shopify static-token reconnect without
  ``--webhook-secret`` again, a PrestaShop one without ``--webhook-secret``, and every WooCommerce reconnect (the
  secret is ours, generated at the first ``--webhook-url``, and the shop's webhooks keep signing with it): without
  it the receiver answers 401 to the deliveries of the webhooks already registered, and WooCommerce disables them;
- WooCommerce's ``webhook_url`` (where those webhooks deliver), which the upkeep needs to re-enable or re-register
  them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecom_pipeline.stock.settings import BUFFER_KEY, ENABLED_KEY, LOCATIONS_KEY
from ecom_pipeline.sync.policies import SETTING_KEYS
from ecom_pipeline.sync.reconcile import SETTING as RECONCILE_KEY
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher, CredentialError

KEPT_SETTING_KEYS: tuple[str, ...] = (
    *SETTING_KEYS,
    ENABLED_KEY,
    BUFFER_KEY,
    LOCATIONS_KEY,
    RECONCILE_KEY,
    "webhook_url",
)
# Credentials a reconnect keeps when the new ones lack them, per platform.
KEPT_CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "shopify": ("webhook_secret",),
    "woocommerce": ("webhook_secret",),
    "prestashop": ("webhook_secret",),
}


def previous_integration(conn: Connection, *, tenant_id: str, platform: str, base_url: str) -> Any | None:
    """The shop's earlier row (connected or not), which ``store.create_integration`` will reuse; None for a new shop."""
    base_url = base_url.rstrip("/")
    for integration in store.list_integrations(conn, tenant_id=tenant_id, platform=platform, include_disconnected=True):
        if integration.base_url == base_url:
            return integration
    return None


def kept_settings(previous: Any | None) -> dict[str, Any]:
    """The merchant's settings of the previous connection (``KEPT_SETTING_KEYS``)."""
    if previous is None:
        return {}
    return {k: v for k, v in dict(previous.settings or {}).items() if k in KEPT_SETTING_KEYS}


def carry_over(
    conn: Connection,
    *,
    tenant_id: str,
    platform: str,
    base_url: str,
    settings: dict[str, Any],
    credentials: dict[str, Any] | None = None,
    cipher: CredentialCipher | None = None,
) -> None:
    """Fill ``settings`` (and ``credentials``, given a ``cipher``) in place with what a reconnect of this shop keeps
    from its previous row; what the new connect set itself wins."""
    previous = previous_integration(conn, tenant_id=tenant_id, platform=platform, base_url=base_url)
    if previous is None:
        return
    for key, value in kept_settings(previous).items():
        settings.setdefault(key, value)
    keys = [k for k in KEPT_CREDENTIAL_KEYS.get(platform, ()) if credentials is not None and not credentials.get(k)]
    if not keys or credentials is None or cipher is None:
        return
    try:
        stored = store.load_credentials(conn, int(previous.id), cipher)
    except CredentialError:
        return  # unreadable with this key: nothing to keep (the new credentials are stored as given)
    for key in keys:
        if stored.get(key):
            credentials[key] = stored[key]


__all__ = ["KEPT_CREDENTIAL_KEYS", "KEPT_SETTING_KEYS", "carry_over", "kept_settings", "previous_integration"]
