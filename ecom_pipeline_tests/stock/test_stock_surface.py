"""The stock surface: location mapping, the CLI (push, levels, movements, adjust, buffer, status), the Dagster asset
``hub/stock_push`` with its oversell check, and the ledger's own guarantees (idempotent sources, buffers)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select, text

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.stock import ledger
from ecom_pipeline.stock.levels import levels
from ecom_pipeline.stock.links import stock_integrations
from ecom_pipeline.stock.settings import Buffer, StockSettingsError
from ecom_pipeline.stock.world import PLATFORMS, StockWorld
from ecom_pipeline.warehouse.schema import stock_links, stock_movements
from ecom_pipeline.warehouse.types import utcnow


def on_hand(world: StockWorld, location: str = "main") -> int:
    with world.engine.connect() as conn:
        return ledger.on_hand(conn, "acme", [(world.variant_id(), location)])[(world.variant_id(), location)]


def test_buffer_parsing_rounds_percentages_up_and_refuses_nonsense() -> None:
    """Prevents a buffer rounded away (10% of 5 holds 1 back, not 0) or a typo taken as no buffer."""
    assert Buffer.parse("3").reserve(10) == 3 and Buffer.parse("3").reserve(2) == 2
    assert Buffer.parse("10%").reserve(5) == 1 and Buffer.parse("25%").reserve(8) == 2
    assert Buffer.parse("").reserve(5) == 0 and Buffer.parse(None).reserve(5) == 0
    assert Buffer.parse("12.5%").percent == Decimal("12.5")
    for bad in ("ten", "-1", "1.5", "150%"):
        with pytest.raises(StockSettingsError):
            Buffer.parse(bad)


def test_a_location_mapping_sends_each_shop_location_to_its_hub_location(world: StockWorld) -> None:
    """Prevents stock written to the wrong Shopify location: location 2 draws on the hub's main, location 1 on a
    backroom with its own on hand (opened from Shopify's own reading there)."""
    shop = world.shop("shopify").store
    loc1, loc2 = sorted(shop.locations)[:2]
    item = shop.variants[world.shelf.shopify_variant].inventory_item_id
    shop.set_inventory(item, f"gid://shopify/Location/{loc2}", 4)
    world.set_settings("shopify", stock_locations={str(loc2): "main", str(loc1): "backroom"})
    world.pull(("inventory",))
    world.stock()
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(stock_links).where(
                stock_links.c.integration_id == world.ids["shopify"], stock_links.c.variant_id == world.variant_id()
            )
        ).all()
    assert sorted((r.shop_location, r.hub_location) for r in rows) == [(str(loc1), "backroom"), (str(loc2), "main")]
    assert on_hand(world, "main") == 10 and on_hand(world, "backroom") == 10
    assert shop.levels[item][loc2].available == 10  # main's number, pushed to location 2
    world.sell("woocommerce", 3)  # Woo draws on main
    world.cycle()
    assert shop.levels[item][loc2].available == 7 and shop.levels[item][loc1].available == 10
    assert on_hand(world, "backroom") == 10


def test_cli_levels_movements_adjust_buffer_and_status(world: StockWorld, capsys: pytest.CaptureFixture[str]) -> None:
    """Prevents a CLI that changes nothing or says nothing: a count through the CLI reaches every shop, a buffer
    through the CLI lowers one shop, bad input exits 2 and records nothing."""
    url = ["--warehouse-url", world.url]
    assert cli_main([*url, "stock", "push", "--tenant", "acme"]) == 0
    assert (
        cli_main(
            [
                *url,
                "stock",
                "adjust",
                "--tenant",
                "acme",
                "--sku",
                "SHELF-1",
                "--count",
                "25",
                "--note",
                "inventory day",
            ]
        )
        == 0
    )
    assert cli_main([*url, "stock", "buffer", "--integration", str(world.ids["woocommerce"]), "20%"]) == 0
    assert cli_main([*url, "stock", "push", "--tenant", "acme"]) == 0
    assert world.shown() == {"woocommerce": 20, "shopify": 25, "prestashop": 25}
    capsys.readouterr()
    assert cli_main([*url, "stock", "levels", "--tenant", "acme", "--sku", "SHELF-1"]) == 0
    out = capsys.readouterr().out
    assert "SHELF-1" in out and "25" in out and "20" in out
    assert cli_main([*url, "stock", "movements", "--tenant", "acme", "--reason", "count"]) == 0
    assert "inventory day" in capsys.readouterr().out
    assert cli_main([*url, "stock", "adjust", "--tenant", "acme", "--sku", "NOPE", "--delta", "1"]) == 2
    assert cli_main([*url, "stock", "adjust", "--tenant", "acme", "--sku", "SHELF-1"]) == 2
    assert cli_main([*url, "stock", "buffer", "--integration", str(world.ids["woocommerce"]), "lots"]) == 2
    assert on_hand(world) == 25
    assert cli_main([*url, "status", "--tenant", "acme"]) == 0
    out = capsys.readouterr().out
    assert "Stock (stock_links" in out and "No open oversell." in out


def test_movements_are_idempotent_by_source(world: StockWorld) -> None:
    """Prevents double counting at the ledger itself: a refund restock or a hub count recorded twice (a retry, a
    second process) is one movement."""
    world.stock()
    variant = world.variant_id()
    with world.engine.begin() as conn:
        for _ in range(2):
            ledger.refund_restock(
                conn,
                "acme",
                integration_id=world.ids["shopify"],
                variant_id=variant,
                quantity=2,
                refund_ref="R-1",
                occurred_at=utcnow(),
                now=utcnow(),
            )
            ledger.hub_movement(
                conn,
                "acme",
                variant_id=variant,
                location="main",
                delta=-1,
                note="broken",
                key="hub:broken-1",
                now=utcnow(),
            )
    with world.engine.connect() as conn:
        reasons = [
            r for (r,) in conn.execute(select(stock_movements.c.reason).where(stock_movements.c.variant_id == variant))
        ]
    assert reasons.count("refund_restock") == 1 and reasons.count("hub_adjustment") == 1
    assert on_hand(world) == 11


def test_the_dagster_asset_pushes_and_its_check_warns_on_an_oversell(world: StockWorld, tmp_path: Path) -> None:
    """Prevents an oversell that only the database knows: materialized by Dagster, hub/stock_push pushes the
    shops and its asset check stock_no_open_oversells fails (warning) while on hand is below zero."""
    from ecom_pipeline.assets.stock import CHECK_OVERSELLS, STOCK_KEY, stock_push
    from ecom_pipeline.resources import CredentialStoreResource, WarehouseResource

    world.stock()
    world.sell("woocommerce", 7)
    world.sell("prestashop", 7)
    world.pull()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", ["acme"])
    result = dg.materialize(
        [stock_push],
        partition_key="acme",
        instance=instance,
        resources={"warehouse": WarehouseResource(url=world.url), "credentials": CredentialStoreResource()},
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [(CHECK_OVERSELLS, False)]
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == STOCK_KEY]
    meta = event.step_materialization_data.materialization.metadata
    assert meta["writes"].value >= 1
    assert world.shown() == {p: 0 for p in PLATFORMS}


def test_stock_demo_shows_a_sale_reaching_the_other_shops_and_an_oversell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a `make demo` stock part that shows nothing: each sale reaches the other two shops, the last units
    sold twice are an oversell in the status lines."""
    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(tmp_path / "home"))
    assert cli_main(["stock", "demo"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"1 unit sold in prestashop\s+7\s+7\s+7\s", out), out
    assert "OVERSOLD: 1 variant/location(s) below zero" in out


def _printed_levels(out: str) -> list[dict[str, str]]:
    """The rows of `stock levels`' table, cut by the widths of its dashes line (a cell may hold a space)."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans, start = [], 0
    for dashes in lines[at].split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    headers = [lines[at - 1][a:b].strip() for a, b in spans]
    rows = []
    for line in lines[at + 1 :]:
        if not line.strip() or " below zero" in line:
            break
        rows.append({h: line[a:b].strip() for h, (a, b) in zip(headers, spans, strict=True)})
    return rows


def _view_rows(world: StockWorld) -> dict[tuple[int, str, str], tuple]:
    """``stock_available`` by (shop, SKU, location): on hand, committed, buffer, available, shop shows, platform."""
    with world.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT integration_id, sku, location, on_hand, committed, buffer, available, shop_shows, platform "
                "FROM stock_available WHERE tenant_id = 'acme'"
            )
        ).all()
    return {(int(r[0]), r[1], r[2]): tuple(r[3:]) for r in rows}


def test_the_stock_available_view_equals_what_stock_levels_prints(
    world: StockWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents analysts' SQL (`stock_available`) from drifting from what the hub pushes: the same on hand,
    committed (a WooCommerce pending order), buffers (units, a percentage rounded up, a per-product one) and
    available as `ecom-pipeline stock levels` on every link, then as `levels()` for buffers that round or do not
    parse (NULL in the view, where `stock levels` and the push refuse the shop's setting)."""
    world.set_settings("woocommerce", stock_buffer="2")
    world.set_settings("prestashop", stock_buffer="25%")
    world.stock()
    woo = world.shop("woocommerce").store
    woo.add_order({"line_items": [{"product_id": world.shelf.woo_product, "quantity": 3}]})  # pending: committed
    world.pull()
    with world.engine.begin() as conn:
        conn.execute(
            stock_links.update()
            .where(stock_links.c.integration_id == world.ids["shopify"], stock_links.c.variant_id == world.variant_id())
            .values(buffer="1")
        )
    capsys.readouterr()
    assert cli_main(["--warehouse-url", world.url, "stock", "levels", "--tenant", "acme", "--limit", "1000"]) == 0
    printed = _printed_levels(capsys.readouterr().out)
    view = _view_rows(world)
    assert len(printed) == len(view) > 3
    for row in printed:
        iid = int(row["shop"].split()[0].lstrip("#"))
        hand, held, buffer, available, shows, platform = view[(iid, row["sku"], row["location"])]
        assert row["shop"] == f"#{iid} {platform}"
        numbers = (row["on hand"], row["committed"], row["buffer"], row["available"], row["shop shows"])
        assert numbers == tuple(str(n) for n in (hand, held, buffer, available, shows)), row
    # SHELF-1: on hand 10, 3 committed: Woo 10 - 3 - 2, PrestaShop 7 - ceil(7 x 25%), Shopify 7 - 1 (its link's)
    shelf = {p: view[(world.ids[p], "SHELF-1", "main")][:4] for p in PLATFORMS}
    assert shelf == {"woocommerce": (10, 3, 2, 5), "prestashop": (10, 3, 2, 5), "shopify": (10, 3, 1, 6)}

    with world.engine.connect() as conn:
        shops = {int(s.id): s for s in stock_integrations(conn, "acme")}
    presta = world.ids["prestashop"]
    key = (presta, "SHELF-1", "main")
    for buffer in ("0", "7", "9", "2.5%", "14.2857%", "33.3%", "100%", " 5 % ", " ", "1.5", "101%", "lots", "5%%"):
        with world.engine.begin() as conn:
            where = (stock_links.c.integration_id == presta, stock_links.c.variant_id == world.variant_id())
            conn.execute(stock_links.update().where(*where).values(buffer=buffer))
            [link] = conn.execute(select(stock_links).where(*where)).all()
            try:
                want = levels(conn, "acme", [link], shops)[int(link.id)]
                expected: tuple = (want.buffer, want.available)
            except StockSettingsError:
                expected = (None, None)
        assert _view_rows(world)[key][2:4] == expected, buffer


def test_a_cli_stock_push_waits_for_the_tenants_lock_says_so_and_times_out_with_nothing_recorded(
    world: StockWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a stock push that sits still without saying why, or that ends in a traceback, while a run holds the
    tenant: like ``catalog import`` and ``push`` it says whom it waits for, and when the lock is not freed in time
    it records and pushes nothing and says what to do (exit 1)."""
    from ecom_pipeline.warehouse.locks import ENV_LOCK_TIMEOUT, tenant_lock

    with world.engine.connect() as conn:
        before = conn.execute(select(stock_movements.c.id)).all()
    monkeypatch.setenv(ENV_LOCK_TIMEOUT, "0.5")
    with tenant_lock(world.engine, "acme", purpose="a test's apply"):
        assert cli_main(["--warehouse-url", world.url, "stock", "push", "--tenant", "acme", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "waiting for it to finish" in err and "a test's apply" in err
    assert "Nothing was recorded or pushed" in err and "Traceback" not in err
    with world.engine.connect() as conn:
        assert conn.execute(select(stock_movements.c.id)).all() == before
