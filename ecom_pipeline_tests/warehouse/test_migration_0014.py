"""Migration 0014: Shopify's product type moves out of the kind column into ``shopify_product_type``, and back."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import insert, select

from ecom_pipeline.warehouse import migrate
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, integrations
from ecom_pipeline.warehouse.types import utcnow

LONG_TYPE = "Outdoor Equipment > Camping Cookware"  # 36 characters: SQLite kept it whole before 0014


def _to(url: str, revision: str, *, down: bool) -> None:
    cfg = migrate.alembic_config()
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
    engine.dispose()


def _rows(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        products = {r.title: r for r in conn.execute(select(hub_products))}
        bases = {int(r.hub_id): r.base_snapshot for r in conn.execute(select(entity_links))}
    engine.dispose()
    return {title: (row, bases.get(int(row.id))) for title, row in products.items()}


def test_upgrade_moves_shopify_types_out_of_the_kind_and_downgrade_puts_them_back(backend_url: str) -> None:
    """Prevents an upgraded hub from keeping Shopify types in the WooCommerce kind column (where a Shopify pull no
    longer writes, so they would stay forever) or moving a real kind; and the moved type from being pushed back
    unchanged on the first push (the link's base gets it too)."""
    url = backend_url
    _to(url, "0013", down=True)
    engine = make_engine(url)
    # Only SQLite could hold a type over 32 characters before 0014 (PostgreSQL refused it).
    long_type = LONG_TYPE if engine.dialect.name == "sqlite" else LONG_TYPE[:32]
    engine.dispose()
    now = utcnow()
    engine = make_engine(url)
    with engine.begin() as conn:
        ids = {}
        for platform in ("shopify", "woocommerce"):
            ids[platform] = conn.execute(
                insert(integrations)
                .values(tenant_id="t", platform=platform, name=platform, base_url=f"https://{platform}.example",
                        credentials_encrypted="x", settings={}, status="active", created_at=now, updated_at=now,
                        counts={})
                .returning(integrations.c.id)
            ).scalar_one()  # fmt: skip
        for title, kind, platform in (("mug", "Mugs", "shopify"), ("tent", long_type, "shopify"),
                                      ("tee", "variable", "shopify"), ("cup", "Cups", "woocommerce")):  # fmt: skip
            pid = conn.execute(
                insert(hub_products)
                .values(tenant_id="t", title=title, status="active", product_type=kind, synced_at=now)
                .returning(hub_products.c.id)
            ).scalar_one()
            conn.execute(
                insert(entity_links).values(tenant_id="t", integration_id=ids[platform], entity="product",
                                            external_id=title, hub_id=pid, last_synced_at=now,
                                            base_snapshot={"title": title, "product_type": kind})
            )  # fmt: skip
            # A variant under each product: SQLite's downgrade must not rebuild hub_products (its DROP TABLE fails
            # on this foreign key).
            conn.execute(insert(hub_variants).values(tenant_id="t", product_id=pid, sku=f"{title}-1", synced_at=now))
    engine.dispose()
    migrate.upgrade(url)
    rows = _rows(url)
    mug, mug_base = rows["mug"]
    assert (mug.product_type, mug.shopify_product_type, mug.vendor) == (None, "Mugs", None)
    assert mug_base == {"title": "mug", "product_type": "Mugs", "shopify_product_type": "Mugs"}
    assert (rows["tent"][0].product_type, rows["tent"][0].shopify_product_type) == (None, long_type)
    assert (rows["tee"][0].product_type, rows["tee"][0].shopify_product_type) == ("variable", None)  # a kind
    assert (rows["cup"][0].product_type, rows["cup"][0].shopify_product_type) == ("Cups", None)  # not Shopify's
    assert rows["cup"][1] == {"title": "cup", "product_type": "Cups"}

    _to(url, "0013", down=True)
    engine = make_engine(url)
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(hub_products.c.title, hub_products.c.product_type)).all())
    engine.dispose()
    assert kinds == {"mug": "Mugs", "tent": LONG_TYPE[:32], "tee": "variable", "cup": "Cups"}
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head_revision()
