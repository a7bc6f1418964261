"""Migration 0005: an upgraded hub stops counting the stock of variants its shop had already deleted."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select

from ecom_pipeline.warehouse import migrate
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_inventory, hub_products, hub_variants, integrations
from ecom_pipeline.warehouse.types import utcnow


def test_upgrade_tombstones_existing_stock_rows_of_variants_their_shop_deleted(backend_url: str) -> None:
    """Prevents hubs upgraded from before 0005 from overstating stock until every shop is fully refreshed."""
    url = backend_url
    cfg = migrate.alembic_config()
    before = ScriptDirectory.from_config(cfg).get_revision("0005").down_revision
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, str(before))
    now = utcnow()
    deleted_at = now - timedelta(days=2)
    with engine.begin() as conn:
        iid = conn.execute(
            insert(integrations)
            .values(tenant_id="t", platform="woocommerce", name="s", base_url="https://s.example",
                    credentials_encrypted="x", settings={}, status="active", created_at=now, updated_at=now, counts={})
            .returning(integrations.c.id)
        ).scalar_one()  # fmt: skip
        product = insert(hub_products).values(tenant_id="t", title="P", status="active", synced_at=now)
        pid = conn.execute(product.returning(hub_products.c.id)).scalar_one()
        for sku, link_deleted in (("GONE", deleted_at), ("LIVE", None)):
            vid = conn.execute(
                insert(hub_variants)
                .values(tenant_id="t", product_id=pid, sku=sku, synced_at=now)
                .returning(hub_variants.c.id)
            ).scalar_one()
            conn.execute(
                insert(entity_links).values(
                    tenant_id="t", integration_id=iid, entity="variant", external_id=sku, hub_id=vid,
                    last_synced_at=now, deleted_at=link_deleted,
                )
            )  # fmt: skip
            conn.execute(
                insert(hub_inventory).values(
                    tenant_id="t", variant_id=vid, sku=sku, location=f"woocommerce:{iid}:default",
                    integration_id=iid, available=5, managed=True, synced_at=now,
                )
            )  # fmt: skip
    engine.dispose()
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(hub_inventory.c.sku, hub_inventory.c.deleted_at)).all())
    engine.dispose()
    assert rows["LIVE"] is None
    assert rows["GONE"] is not None and abs((rows["GONE"] - deleted_at).total_seconds()) < 1
