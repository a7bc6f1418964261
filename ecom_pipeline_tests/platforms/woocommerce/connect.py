"""A WooCommerce shop of the sandbox connected to a real warehouse, for the extract tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher


def connect_shop(
    engine: Engine,
    shop: ShopHandle,
    *,
    name: str | None = None,
    tenant: str = "acme",
    settings: dict[str, Any] | None = None,
) -> tuple[store.IntegrationRecord, dict[str, str]]:
    """Connect ``shop`` (its REST keys, named ``name`` or the shop's name) as ``tenant``'s; returns the stored
    integration and the credentials an ``ExtractContext`` takes."""
    credentials = {"consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret}
    with engine.begin() as conn:
        integration_id = store.create_integration(
            conn,
            tenant_id=tenant,
            platform="woocommerce",
            name=shop.name if name is None else name,
            base_url=shop.http_url,
            credentials=credentials,
            settings={} if settings is None else settings,
            cipher=CredentialCipher(CredentialCipher.generate_key()),
        )
        return store.get_integration(conn, integration_id), credentials
