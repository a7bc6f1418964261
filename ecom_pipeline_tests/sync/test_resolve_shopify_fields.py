"""Resolve of Shopify's vendor and product type against a real warehouse (SQLite and PostgreSQL): each platform
fills only the columns it has, so a product sold on WooCommerce and Shopify keeps both shops' values."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from ecom_pipeline.sync import resolve
from ecom_pipeline.warehouse.schema import entity_links, hub_products, integrations
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.sync.helpers import T0, connect, product, variant

LONG_TYPE = "Outdoor Equipment > Camping Cookware > Enamel Travel Mugs"


def _hub(engine: Engine) -> tuple[str | None, str | None, str | None, str]:
    with engine.connect() as conn:
        row = conn.execute(select(hub_products)).one()
    return row.product_type, row.vendor, row.shopify_product_type, row.title


@pytest.mark.parametrize("direction", ["pull", "bidirectional"])
def test_a_woocommerce_and_a_shopify_pull_keep_each_others_kind_vendor_and_type(engine: Engine, direction: str) -> None:
    """Prevents a Shopify pull from blanking (or overwriting with "Mugs") the WooCommerce kind the Woo push reads,
    and a WooCommerce pull from blanking Shopify's vendor and type; a long type is kept whole (PostgreSQL refused it
    in the 32-character column); a rerun of the same pages writes nothing (the base hashes as the reading does)."""
    woo_page = [product("1", variant("11", "MUG-1"))]  # product_type "variable", no vendor (None)
    shop_product = replace(product("900", variant("901", "MUG-1")), product_type=None, vendor="Acme",
                           shopify_product_type=LONG_TYPE)  # fmt: skip
    with engine.begin() as conn:
        woo, shopify = (
            connect(conn, url="https://woo.example"),
            connect(conn, url="https://s.example", platform="shopify"),
        )
        conn.execute(update(integrations).values(settings={"sync_direction": direction}))
        resolve.resolve_products(conn, tenant_id="acme", integration_id=woo, products=woo_page, now=utcnow())
        resolve.resolve_products(conn, tenant_id="acme", integration_id=shopify, products=[shop_product], now=utcnow())
    assert _hub(engine)[:3] == ("variable", "Acme", LONG_TYPE)

    edited = [replace(woo_page[0], title="Big Mug", updated_at=T0 + timedelta(hours=1))]
    with engine.begin() as conn:
        resolve.resolve_products(conn, tenant_id="acme", integration_id=woo, products=edited, now=utcnow())
    assert _hub(engine) == ("variable", "Acme", LONG_TYPE, "Big Mug")

    with engine.connect() as conn:
        links = [tuple(r) for r in conn.execute(select(entity_links).order_by(entity_links.c.id))]
    with engine.begin() as conn:
        counts = resolve.resolve_products(conn, tenant_id="acme", integration_id=woo, products=edited, now=utcnow())
        again = resolve.resolve_products(conn, tenant_id="acme", integration_id=shopify, products=[shop_product],
                                         now=utcnow())  # fmt: skip
    assert (counts.updated, again.updated) == (0, 0)
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(entity_links).order_by(entity_links.c.id))] == links
