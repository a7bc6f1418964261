"""Two bidirectional WooCommerce shops and the hub, over real HTTP, on a real warehouse, through the real Dagster
sync job (issue 10, three-way merge): a price edited in one shop reaches the hub without overwriting a hub title
edit, and the next push carries it to the other shop (and the hub's title to both); then everything is quiet."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from sqlalchemy import select, update

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, sync_conflicts
from ecom_pipeline_tests.integration.conftest import running_shops
from ecom_pipeline_tests.integration.push_world import TENANT, WRITES, TenantWorld

SHOPS = ("merge-a", "merge-b")
CATALOGUE = ["mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,"]


class World(TenantWorld):
    """The two WooCommerce shops, their mug and the hub's."""

    def mug(self, shop: str) -> Any:
        [record] = [p for p in self.sandbox.shop(shop).store.products.values() if p.sku == "MUG-1"]
        return record

    def shop_edit(self, shop: str, data: dict[str, Any]) -> None:
        """A merchant's edit in the shop's admin, as WooCommerce's REST API takes it (real HTTPS)."""
        handle = self.sandbox.shop(shop)
        reply = requests.put(
            f"{handle.https_url}/wp-json/wc/v3/products/{self.mug(shop).id}",
            params={"consumer_key": handle.consumer_key, "consumer_secret": handle.consumer_secret},
            json=data,
            verify=self.sandbox.ca_bundle,
            timeout=10,
        )
        assert reply.status_code == 200, reply.text

    def writes(self) -> int:
        return sum(self.sandbox.shop(s).stats.count(method=m) for s in SHOPS for m in WRITES)

    def hub(self) -> tuple[str, Decimal]:
        with shared_engine(self.url).connect() as conn:
            title = conn.execute(select(hub_products.c.title).where(hub_products.c.handle == "mug")).scalar_one()
            price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == "MUG-1")).scalar_one()
        return title, price


@pytest.fixture
def world(warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    specs = [ShopSpec(name=name, seed=11 + i, products=2, orders=0, customers=0) for i, name in enumerate(SHOPS)]
    running = running_shops(
        specs, warehouse_url=warehouse_url, dagster_home=dagster_home, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    with running as (sb, instance):
        for name in SHOPS:
            shop = sb.shop(name)
            argv = ["--warehouse-url", warehouse_url, "connect", "woocommerce", "--tenant", TENANT]
            argv += ["--url", shop.http_url, "--consumer-key", shop.consumer_key]
            argv += ["--consumer-secret", shop.consumer_secret, "--timeout", "5", "--direction", "bidirectional"]
            assert cli_main(argv) == 0
        yield World(warehouse_url, sb, instance, tmp_path)


def test_a_price_edited_in_one_shop_reaches_the_hub_and_the_other_shop_and_a_hub_title_edit_survives(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the pull from overwriting the hub's own edit (shop wins everything) and a shop's edit from stopping
    at the hub: it must reach the tenant's other bidirectional shops, and then nothing more is written."""
    world.import_csv(*CATALOGUE)
    assert world.cli("push", "--tenant", TENANT) == 0
    assert run_sync(TENANT, instance=world.instance).success
    assert [world.mug(s).regular_price for s in SHOPS] == ["8.00", "8.00"]

    world.sandbox.clock.advance(60)
    world.shop_edit("merge-a", {"regular_price": "9.25"})
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_products).where(hub_products.c.handle == "mug").values(title="Stoneware mug"))
    assert run_sync(TENANT, instance=world.instance).success
    assert world.hub() == ("Stoneware mug", Decimal("9.25"))

    capsys.readouterr()
    assert world.cli("push", "--tenant", TENANT) == 0
    assert [world.mug(s).regular_price for s in SHOPS] == ["9.25", "9.25"]
    assert [world.mug(s).name for s in SHOPS] == ["Stoneware mug", "Stoneware mug"]

    # Quiet afterwards: the pull of our own writes changes nothing, the next push writes nothing, no conflicts.
    assert run_sync(TENANT, instance=world.instance).success
    assert world.hub() == ("Stoneware mug", Decimal("9.25"))
    for name in SHOPS:
        world.sandbox.shop(name).stats.reset()
    assert world.cli("push", "--tenant", TENANT) == 0
    assert world.writes() == 0
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(sync_conflicts)).all() == []


def test_a_webhook_bringing_a_conflicting_price_records_the_conflict_with_its_dagster_run(world: World) -> None:
    """Prevents the webhook path from skipping the merge (shop wins) or recording a conflict without its run."""
    from ecom_pipeline.definitions import defs as base_defs
    from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
    from ecom_pipeline.platforms.woocommerce.webhooks import connect_webhooks
    from ecom_pipeline.warehouse.credentials import CredentialCipher
    from ecom_pipeline.warehouse.schema import integrations
    from ecom_pipeline.webhooks.app import create_app
    from ecom_pipeline.webhooks.dagster import APPLY_WEBHOOKS_JOB_NAME, WEBHOOK_DEFINITIONS
    from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

    engine = shared_engine(world.url)
    cipher = CredentialCipher.from_env(world.tmp / "home")
    with engine.connect() as conn:
        shop_a = conn.execute(select(integrations.c.id).order_by(integrations.c.id)).scalars().first()  # merge-a
    job = dg.Definitions.merge(base_defs, dg.Definitions(**WEBHOOK_DEFINITIONS)).resolve_job_def(
        APPLY_WEBHOOKS_JOB_NAME
    )
    world.import_csv(*CATALOGUE)
    assert world.cli("push", "--tenant", TENANT) == 0
    assert world.cli("integration", "set", "--integration", str(shop_a), "--policy", "price=hub") == 0
    with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
        connect_webhooks(engine, shop_a, receiver.url, cipher)
        world.sandbox.clock.advance(60)
        with engine.begin() as conn:
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "MUG-1").values(price=Decimal("8.50")))
        world.shop_edit("merge-a", {"regular_price": "7.75"})
        assert world.sandbox.shop("merge-a").extra["webhooks"].flush(10)
        world.instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [TENANT])
        result = job.execute_in_process(instance=world.instance, partition_key=TENANT)
        assert result.success
    assert world.hub()[1] == Decimal("8.50")  # the hub wins under price=hub
    with engine.connect() as conn:
        [row] = conn.execute(select(sync_conflicts)).all()
    assert (row.integration_id, row.field, row.resolution) == (shop_a, "price", "hub")
    assert (row.hub_value, row.shop_value, row.dagster_run_id) == ("8.50", "7.75", result.run_id)
    assert world.cli("push", "--tenant", TENANT) == 0
    assert [world.mug(s).regular_price for s in SHOPS] == ["8.50", "8.50"]
