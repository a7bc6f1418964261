"""PrestaShop multishop stock: the webservice lists one ``stock_available`` per shop (or per group sharing its
stock) for each product and combination; the integration reads and writes its own shop's rows only
(``platforms/prestashop/shops.py``). Real HTTP to the emulator (``PrestaStore.add_shop_stock`` plays the second
shop's rows), real extract and apply into the test warehouse (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.platforms.prestashop.shops import ShopStock, ShopUnknownError
from ecom_pipeline.platforms.prestashop.spec import platform_spec
from ecom_pipeline.platforms.prestashop.stock import write_stock
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.stock.writers import Reading, StockWrite
from ecom_pipeline.sync.apply import apply_staged
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import entity_links, hub_inventory, hub_variants

TENANT = "multishop"
OTHER_SHOP_QUANTITY = 777


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[ShopHandle]:
    spec = ShopSpec(name="ps-multi", platform="prestashop", seed=8, products=6, variable_share=0.5, orders=0,
                    customers=0)  # fmt: skip
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        handle = server.shop("ps-multi")
        handle.store.add_shop_stock(2, 0, quantity=OTHER_SHOP_QUANTITY)  # shop 2's rows, listed after shop 1's
        yield handle


def default_quantities(shop: ShopHandle) -> dict[str, int]:
    """variant external id -> the default shop's quantity, for the sellable items (no product-level sums)."""
    store_ = shop.store
    out: dict[str, int] = {}
    for (pid, ipa), sid in store_.stock_index.items():
        if ipa == 0 and store_.combinations_of.get(pid):
            continue
        out[f"{pid}-{ipa}"] = int(store_.tables["stock_availables"][sid]["quantity"])
    return out


def pull_inventory(url: str, shop: ShopHandle, settings: dict[str, Any]) -> dict[str, int]:
    """Sync products and stock into the warehouse; the hub's quantity per variant external id."""
    engine = create_engine(url)
    key = shop.credentials["api_key"]
    with engine.begin() as conn:
        integration_id = store.create_integration(
            conn, tenant_id=TENANT, platform="prestashop", name="ps-multi", base_url=shop.http_url,
            credentials={"api_key": key},
            settings={"timezone": "Europe/Paris", "language_id": 1, "currency": "EUR", **settings},
            cipher=CredentialCipher(CredentialCipher.generate_key()),
        )  # fmt: skip
        integration = store.get_integration(conn, integration_id)
    spec = platform_spec()
    for entity in ("product", "inventory"):
        ctx = ExtractContext(engine=engine, integration=integration, credentials={"api_key": key}, run_id="t")
        spec.extract(ctx, entity)
        applied = apply_staged(
            engine, tenant_id=TENANT, entity=entity, transforms={"prestashop": spec.transforms[entity]}, run_id="t"
        )
        assert applied.rejected == 0, applied.rejection_reasons
    with engine.connect() as conn:
        rows = conn.execute(
            select(entity_links.c.external_id, hub_inventory.c.available)
            .join(hub_variants, hub_variants.c.id == hub_inventory.c.variant_id)
            .join(entity_links, (entity_links.c.hub_id == hub_variants.c.id) & (entity_links.c.entity == "variant"))
            .where(entity_links.c.integration_id == integration_id)
        ).all()
    engine.dispose()
    return {str(r.external_id): int(r.available) for r in rows}


def test_the_inventory_pull_reads_the_default_shops_rows_not_the_other_shops(
    warehouse_url: str, shop: ShopHandle
) -> None:
    """Prevents the mix: every row was staged, two quantities per variant, and the hub kept the other shop's
    (listed last) for some."""
    expected = default_quantities(shop)
    assert OTHER_SHOP_QUANTITY not in expected.values()
    assert pull_inventory(warehouse_url, shop, {}) == expected


def test_an_integration_connected_to_the_second_shop_reads_its_rows(warehouse_url: str, shop: ShopHandle) -> None:
    """Prevents a ``shop_id`` setting being ignored by the stock reads."""
    got = pull_inventory(warehouse_url, shop, {"shop_id": 2})
    assert got and set(got.values()) == {OTHER_SHOP_QUANTITY}
    assert set(got) == set(default_quantities(shop))


def _push(shop: ShopHandle, settings: dict[str, Any], item: str, target: int) -> None:
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], backoff_base_s=0.0)
    client.integration_settings = dict(settings)  # type: ignore[attr-defined]

    def recompute(readings: Sequence[Reading]) -> dict[int, int]:
        return {r.link_id: target for r in readings}

    with client:
        out = write_stock(client, [StockWrite(1, 1, item, "default", 0, target)], recompute)
    assert out.failed == {} and len(out.settled) == 1


def test_the_stock_push_writes_the_connected_shops_row_only(shop: ShopHandle) -> None:
    """Prevents the push writing the row listed last, another shop's: the merchant's default shop kept its old
    number and the other shop got ours."""
    (pid, ipa), sid = next((k, v) for k, v in shop.store.stock_index.items() if k[1] == 0)
    twin = max(int(r["id"]) for r in shop.store.tables["stock_availables"].values()
               if r["id_product"] == str(pid) and r["id_product_attribute"] == "0")  # fmt: skip
    _push(shop, {}, f"{pid}-{ipa}", 41)
    assert shop.store.tables["stock_availables"][sid]["quantity"] == "41"
    assert shop.store.tables["stock_availables"][twin]["quantity"] == str(OTHER_SHOP_QUANTITY)
    _push(shop, {"shop_id": 2}, f"{pid}-{ipa}", 42)
    assert shop.store.tables["stock_availables"][twin]["quantity"] == "42"
    assert shop.store.tables["stock_availables"][sid]["quantity"] == "41"


def test_a_shop_of_a_group_sharing_its_stock_takes_the_groups_row(shop: ShopHandle) -> None:
    """The shared-stock layout: no row of the shop itself, one row of its group (``id_shop`` 0); several groups
    share: the shop's own group's row (setting ``shop_group_id``)."""

    def row(rid: int, id_shop: str, group: str, quantity: str) -> dict[str, Any]:
        return {"id": rid, "id_product": "5", "id_product_attribute": "0", "id_shop": id_shop,
                "id_shop_group": group, "quantity": quantity}  # fmt: skip

    rows = [row(10, "0", "1", "3"), row(11, "0", "2", "8"), row(12, "4", "0", "9")]
    shop.store.add_shop(3, 1)
    with PrestaShopClient(shop.http_url, shop.credentials["api_key"]) as client:
        assert [r["id"] for r in ShopStock(client, {"shop_id": 3, "shop_group_id": 2}).select(rows)] == [11]
        assert [r["id"] for r in ShopStock(client, {"shop_id": 4}).select(rows)] == [12]
        one_group = [rows[0], rows[2]]
        assert [r["id"] for r in ShopStock(client, {"shop_id": 3}).select(one_group)] == [10]  # shops: group 1
        assert [r["id"] for r in ShopStock(client, {}).select(rows)] == [10]  # default shop 1 (group 1)


def _row(rid: int, pid: str, id_shop: str, group: str, quantity: str) -> dict[str, Any]:
    return {"id": rid, "id_product": pid, "id_product_attribute": "0", "id_shop": id_shop, "id_shop_group": group,
            "quantity": quantity}  # fmt: skip


def test_rows_all_shared_by_several_groups_are_chosen_by_the_shops_group(shop: ShopHandle) -> None:
    """Prevents every group's row being taken when no row names a shop (two quantities for one item, r1 #3): the
    listing ``{id_shop 0}`` was taken for a one-shop one."""
    shop.store.add_shop(3, 2)
    rows = [_row(10, "7", "0", "1", "5"), _row(11, "7", "0", "2", "900")]
    with PrestaShopClient(shop.http_url, shop.credentials["api_key"]) as client:
        assert [r["id"] for r in ShopStock(client, {}).select(rows)] == [10]  # PS_SHOP_DEFAULT 1, shops: group 1
        assert [r["id"] for r in ShopStock(client, {"shop_id": 3}).select(rows)] == [11]  # shops: group 2
        assert [r["id"] for r in ShopStock(client, {"shop_id": 3, "shop_group_id": 1}).select(rows)] == [10]


def test_another_groups_only_shared_row_is_not_taken(shop: ShopHandle) -> None:
    """Prevents shop 1 getting product 2's group-2 quantity (r1 #4): the only shared row of an item was taken
    without knowing the shop's group."""
    shop.store.add_shop(5, 2)
    rows = [_row(1, "1", "1", "1", "3"), _row(2, "2", "0", "2", "900"), _row(3, "3", "0", "1", "4")]
    with PrestaShopClient(shop.http_url, shop.credentials["api_key"]) as client:
        assert [r["id"] for r in ShopStock(client, {"shop_id": 1}).select(rows)] == [1, 3]
        assert [r["id"] for r in ShopStock(client, {"shop_id": 5}).select(rows)] == [2]


def test_a_multishop_listing_without_a_known_default_shop_is_refused(shop: ShopHandle) -> None:
    """Prevents reading (or writing) shop 1's stock for an integration of another shop when PS_SHOP_DEFAULT cannot
    be read: refused, saying to connect with --shop-id; a one-shop listing still needs nothing."""
    configurations = shop.store.tables["configurations"]
    for cid in [c for c, r in configurations.items() if r["name"] == "PS_SHOP_DEFAULT"]:
        del configurations[cid]
    rows = [_row(1, "1", "1", "0", "3"), _row(2, "1", "2", "0", "900")]
    with PrestaShopClient(shop.http_url, shop.credentials["api_key"]) as client:
        with pytest.raises(ShopUnknownError, match="--shop-id"):
            ShopStock(client, {}).select(rows)
        assert [r["id"] for r in ShopStock(client, {"shop_id": 2}).select(rows)] == [2]
        assert [r["id"] for r in ShopStock(client, {}).select(rows[:1])] == [1]


def test_the_shops_resource_is_served_as_prestashop_prints_it(shop: ShopHandle) -> None:
    """The emulator's ``shops`` (what ``ShopStock.group_id`` reads): fields in PrestaShop 8.2.1's order."""
    shop.store.add_shop(2, 2)
    with PrestaShopClient(shop.http_url, shop.credentials["api_key"]) as client:
        got = client.list("shops", {"display": "full"})
        assert [(r["id"], r["id_shop_group"]) for r in got] == [(1, "1"), (2, "2")]
        assert list(got[0]) == ["id", "id_shop_group", "id_category", "active", "deleted", "name", "color",
                                "theme_name"]  # fmt: skip
