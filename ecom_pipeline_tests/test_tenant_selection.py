"""A tenant's sync selection comes from one read of its shops, and equals what the three separate reads gave.

``jobs.tenant_sync_selection`` (every launcher, for every tenant of a tick) used to call ``tenant_platforms``,
``tenant_push_platforms`` and ``stock_integrations``, each reading the tenant's shops again; it now reads them once
(issue 12). These tests hold the one-read selection equal to the composition of those three for pull, push,
bidirectional, stock-managed and disconnected shops, and ``tenant_sync_selections`` equal to it per tenant.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecom_pipeline.jobs import (
    sync_asset_selection,
    tenant_platforms,
    tenant_push_platforms,
    tenant_sync_selection,
    tenant_sync_selections,
)
from ecom_pipeline.stock.links import stock_integrations
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine

CIPHER = CredentialCipher(CredentialCipher.generate_key())
SHOPS: list[tuple[str, str, dict[str, Any]]] = [
    ("pull", "woocommerce", {}),
    ("push", "woocommerce", {"sync_direction": "push"}),
    ("push", "prestashop", {}),
    ("both", "shopify", {"sync_direction": "bidirectional"}),
    ("both", "woocommerce", {"sync_direction": "pull", "stock_sync": True}),
    ("stock", "prestashop", {"stock_sync": True}),
    ("gone", "woocommerce", {"sync_direction": "push", "stock_sync": True}),
]


def _connect_all(conn: Connection) -> None:
    for i, (tenant, platform, settings) in enumerate(SHOPS):
        iid = store.create_integration(
            conn,
            tenant_id=tenant,
            platform=platform,
            name=f"shop {i}",
            base_url=f"https://{tenant}-{i}.example",
            credentials={"key": "k"},
            settings=settings,
            cipher=CIPHER,
        )
        if tenant == "gone":
            store.disconnect_integration(conn, iid)


def _three_reads(conn: Connection, tenant: str) -> list[Any]:
    return sync_asset_selection(
        tenant_platforms(conn, tenant), tenant_push_platforms(conn, tenant), bool(stock_integrations(conn, tenant))
    )


def test_one_read_selection_equals_the_three_reads_for_every_kind_of_shop(warehouse_url: str) -> None:
    """Prevents the one-read selection from drifting from what pushing_integrations and stock_integrations say
    (a push platform's export step or the stock step missing from, or added to, a tenant's runs)."""
    engine = make_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            _connect_all(conn)
            tenants = ["pull", "push", "both", "stock", "gone", "nobody"]
            for tenant in tenants:
                assert tenant_sync_selection(conn, tenant) == _three_reads(conn, tenant), tenant
            assert tenant_sync_selections(conn, tenants) == {t: tenant_sync_selection(conn, t) for t in tenants}
            # What the shops above must give (so the equality is not between two empty answers).
            keys = {t: {k.to_user_string() for k in tenant_sync_selection(conn, t)} for t in tenants}
    finally:
        engine.dispose()
    assert "woocommerce/export" not in keys["pull"] and "woocommerce/export" in keys["push"]
    assert "prestashop/export" not in keys["push"] and any(k.startswith("prestashop/") for k in keys["push"])
    assert "hub/stock_push" in keys["stock"] and "hub/stock_push" in keys["both"]
    assert "hub/stock_push" not in keys["pull"]
    assert keys["gone"] == keys["nobody"] and not any(k.startswith("woocommerce/") for k in keys["gone"])
