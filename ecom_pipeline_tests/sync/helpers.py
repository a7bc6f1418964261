"""Builders shared by the sync tests: canonical records and a connected shop on a real warehouse, its links and
resolved products and stock; the conflicts resolve recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select

from ecom_pipeline.sync import resolve
from ecom_pipeline.sync.canonical import (
    CanonicalCustomer,
    CanonicalInventory,
    CanonicalOrder,
    CanonicalOrderLine,
    CanonicalProduct,
    CanonicalVariant,
)
from ecom_pipeline.sync.resolve import ResolveCounts
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import sync_conflicts
from ecom_pipeline.warehouse.types import utcnow

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CIPHER = CredentialCipher(CredentialCipher.generate_key())


def connect(
    conn: Connection, tenant: str = "acme", url: str = "https://a.example", platform: str = "woocommerce"
) -> int:
    return store.create_integration(
        conn,
        tenant_id=tenant,
        platform=platform,
        name=url,
        base_url=url,
        credentials={"k": "v"},
        settings={},
        cipher=CIPHER,
    )


def link(
    conn: Connection,
    integration_id: int,
    *,
    entity: str = "product",
    external_id: str = "1",
    hub_id: int = 1,
    now: datetime = T0,
    **fields: Any,
) -> None:
    """``store.upsert_link`` for tenant ``acme``: by default shop record ``product`` 1 is hub row 1 since ``T0``."""
    store.upsert_link(
        conn,
        tenant_id="acme",
        integration_id=integration_id,
        entity=entity,
        external_id=external_id,
        hub_id=hub_id,
        now=now,
        **fields,
    )


def resolve_products(conn: Connection, integration_id: int, *products: CanonicalProduct) -> ResolveCounts:
    """``resolve.resolve_products`` of one page of tenant ``acme``'s shop, now."""
    return resolve.resolve_products(
        conn, tenant_id="acme", integration_id=integration_id, products=list(products), now=utcnow()
    )


def resolve_inventory(conn: Connection, integration_id: int, *items: CanonicalInventory) -> ResolveCounts:
    """``resolve.resolve_inventory`` of one page of tenant ``acme``'s WooCommerce shop, now."""
    return resolve.resolve_inventory(
        conn, tenant_id="acme", integration_id=integration_id, platform="woocommerce", items=list(items), now=utcnow()
    )


def variant(ext: str, sku: str | None, price: str = "10.00", **kw: Any) -> CanonicalVariant:
    return CanonicalVariant(external_id=ext, sku=sku, title=f"V{ext}", price=Decimal(price), currency="EUR", **kw)


def product(ext: str, *variants: CanonicalVariant, title: str = "Tee", updated: datetime = T0) -> CanonicalProduct:
    return CanonicalProduct(
        external_id=ext,
        title=title,
        status="active",
        variants=tuple(variants),
        product_type="variable",
        updated_at=updated,
    )


def order(
    ext: str,
    *lines: CanonicalOrderLine,
    customer: str | None = None,
    updated: datetime = T0,
    status: str = "processing",
) -> CanonicalOrder:
    total = sum((line.total or Decimal(0) for line in lines), Decimal(0))
    return CanonicalOrder(
        external_id=ext,
        order_number=ext,
        status=status,
        financial_status="paid",
        fulfillment_status=None,
        currency="EUR",
        subtotal=total,
        discount_total=Decimal("0"),
        shipping_total=Decimal("0"),
        tax_total=Decimal("0"),
        total=total,
        refunded_total=None,
        lines=lines,
        customer_external_id=customer,
        placed_at=updated - timedelta(hours=1),
        updated_at=updated,
    )


def line(ext: str, variant_ext: str | None, sku: str | None, qty: int = 1, price: str = "10.00") -> CanonicalOrderLine:
    amount = Decimal(price) * qty
    return CanonicalOrderLine(
        external_id=ext,
        variant_external_id=variant_ext,
        sku=sku,
        title="x",
        quantity=qty,
        unit_price=Decimal(price),
        subtotal=amount,
        total=amount,
        tax=Decimal("0"),
    )


def customer(ext: str, email: str | None, first: str = "Ada") -> CanonicalCustomer:
    return CanonicalCustomer(external_id=ext, email=email, first_name=first, updated_at=T0)


def stock(variant_ext: str, sku: str | None, available: int, location: str = "default") -> CanonicalInventory:
    return CanonicalInventory(
        variant_external_id=variant_ext,
        sku=sku,
        location=location,
        available=available,
        managed=True,
        updated_at=T0,
    )


def conflicts(engine: Engine) -> list[Any]:
    """The recorded ``sync_conflicts`` rows, oldest first."""
    with engine.connect() as conn:
        return list(conn.execute(select(sync_conflicts).order_by(sync_conflicts.c.id)))
