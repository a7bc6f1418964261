"""What a push changed or left on its own initiative reaches the merchant (issue 10, two-way sync, lineage).

A PrestaShop title with characters the webservice refuses is written cleaned, a handle it refuses as its ASCII
slug; a Shopify product adopted by SKU keeps the shop's variants the hub lacks. Each says so in the push report
(``WriteOutcome.warnings``): the ``ecom-pipeline push`` output (``--dry-run`` too, where the plan tells), the export
asset's run metadata (``push_warnings``) and the record's ``push_records.message``. Real HTTP to the emulators, a
real warehouse and Dagster instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from ecom_pipeline.jobs import SYNC_JOB_NAME
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import push_records
from ecom_pipeline_tests.integration.push_world import (
    TENANT,
    OpenPushWorld,
    PushWorld,
    ShopifyWorld,
    prestashop_spec,
    shopify_spec,
)

TITLE = "Pack #2 <b>"
CLEANED = "Pack 2 b"


def _export(world: PushWorld, platform: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Materialize ``<platform>/export`` for the tenant (the asset a sync runs), its metadata as plain values."""
    from ecom_pipeline.definitions import defs
    from ecom_pipeline.partitions import TENANTS_PARTITION_NAME

    world.instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [TENANT])
    result = defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(
        instance=world.instance,
        partition_key=TENANT,
        asset_selection=[dg.AssetKey([platform, "export"])],
        run_config={"ops": {f"{platform}__export": {"config": {"dry_run": dry_run}}}},
    )
    assert result.success
    [mat] = result.asset_materializations_for_node(f"{platform}__export")
    return {k: v.value for k, v in mat.metadata.items()}


def _messages(world: PushWorld) -> dict[tuple[str, str | None], str | None]:
    """(entity, handle or SKU) -> message of the last push's ``push_records`` rows."""
    run = world.export_runs()[-1]
    with shared_engine(world.url).connect() as conn:
        rows = conn.execute(select(push_records).where(push_records.c.sync_run_id == run.id)).all()
    return {(r.entity, r.sku or r.handle): r.message for r in rows}


# --- PrestaShop --------------------------------------------------------------------------------------------------


class PrestaWorld(PushWorld):
    pass


@pytest.fixture
def presta(open_push_world: OpenPushWorld) -> Iterator[PrestaWorld]:
    with open_push_world(PrestaWorld, prestashop_spec("warn-presta", languages=["en"])) as world:
        yield world


def test_a_prestashop_title_and_handle_written_cleaned_are_reported_in_the_cli_the_run_and_the_lineage(
    presta: PrestaWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a title or handle the writer changed (characters PrestaShop refuses) being said only in a Python
    log: the dry run foretells it, the push prints it, the export asset's metadata lists it, and the product's
    ``push_records`` row carries it."""
    presta.import_csv(f"tasse-café,{TITLE},,active,simple,,,PACK-2,,5.00,,EUR,0.1,,")
    capsys.readouterr()
    assert presta.push("--dry-run") == 0
    out = capsys.readouterr().out
    assert "warning (dry run, as the plan tells): product tasse-café: title 'Pack #2 <b>' written as 'Pack 2 b'" in out
    assert "handle 'tasse-café' written as the URL slug 'tasse-cafe'" in out
    assert presta.writes() == 0

    meta = _export(presta, "prestashop")
    assert meta["warnings"] == 2
    assert "**#" in meta["push_warnings"] and "written as 'Pack 2 b'" in meta["push_warnings"]
    assert "URL slug 'tasse-cafe'" in meta["push_warnings"]
    [row] = [r for r in presta.shop.store.tables["products"].values() if r.get("reference") == "PACK-2"]
    assert presta.shop.store.text(row["name"]) == CLEANED
    assert "written as 'Pack 2 b'" in str(_messages(presta)[("product", "tasse-café")])

    presta.set_hub("tasse-café", title="Pack {3}")
    capsys.readouterr()
    assert presta.push() == 0
    out = capsys.readouterr().out
    assert "warning: product tasse-café: title 'Pack {3}' written as 'Pack 3'" in out
    assert "title 'Pack {3}' written as 'Pack 3'" in str(_messages(presta)[("product", "tasse-café")])


def test_an_adopted_prestashop_product_with_combinations_gets_new_combinations_at_their_hub_price(
    presta: PrestaWorld,
) -> None:
    """Prevents wrong prices on the combinations a push adds to a product it adopts (a push killed before its
    links): the adopted product keeps its own stored price, but the new combinations' impacts were computed
    against the hub's lowest price, so a shop product at 18.00 with a hub lowest of 19.90 sold a 24.00 variant at
    22.10."""
    presta.import_csv(
        "tee,T-Shirt,,active,variable,,,TEE-S,T-Shirt - S,19.90,,EUR,0.2,Size=S,",
        "tee,,,,,,,TEE-M,T-Shirt - M,21.00,,EUR,0.2,Size=M,",
    )
    assert presta.push() == 0
    store = presta.shop.store
    [pid] = [p for p, r in store.tables["products"].items() if store.text(r["name"]) == "T-Shirt"]

    def combos() -> dict[str, dict[str, Any]]:
        return {str(store.tables["combinations"][c]["reference"]): store.tables["combinations"][c]
                for c in store.combinations_of.get(pid, [])}  # fmt: skip

    # The merchant moved the price into the product in the shop (same final prices): 18.00 + impacts.
    store.tables["products"][pid]["price"] = "18.000000"
    combos()["TEE-S"]["price"], combos()["TEE-M"]["price"] = "1.900000", "3.000000"
    presta.unlink("tee")  # what a push killed before its links leaves
    presta.import_csv(
        "tee,T-Shirt,,active,variable,,,TEE-S,T-Shirt - S,19.90,,EUR,0.2,Size=S,",
        "tee,,,,,,,TEE-M,T-Shirt - M,21.00,,EUR,0.2,Size=M,",
        "tee,,,,,,,TEE-L,T-Shirt - L,24.00,,EUR,0.2,Size=L,",
    )
    assert presta.push() == 0
    product_price = Decimal(store.tables["products"][pid]["price"])
    finals = {sku: product_price + Decimal(c["price"]) for sku, c in combos().items()}
    assert finals == {"TEE-S": Decimal("19.90"), "TEE-M": Decimal("21.00"), "TEE-L": Decimal("24.00")}


# --- Shopify -----------------------------------------------------------------------------------------------------


@pytest.fixture
def shopify(open_push_world: OpenPushWorld) -> Iterator[ShopifyWorld]:
    with open_push_world(ShopifyWorld, shopify_spec("warn-shopify", seed=7, products=2)) as world:
        yield world


def test_an_adopted_shopify_products_own_variants_kept_are_reported_in_the_cli_the_run_and_the_lineage(
    shopify: ShopifyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the shop variants an adoption leaves alone (the hub lacks them) being said only in a Python log:
    the export asset's metadata lists them, the CLI push prints them, the adopted product's ``push_records`` row
    carries them."""
    store = shopify.shop.store
    store.add_product("Merchant Tee", [{"sku": f"X-{i}", "price": "10.00"} for i in (1, 2, 3)])
    shopify.import_csv("xtee,X Tee,,active,simple,,,X-1,,10.00,,USD,0.2,,")
    meta = _export(shopify, "shopify")
    assert meta["warnings"] == 1
    assert "keeps 2 variant(s) the hub does not have, left as they are" in meta["push_warnings"]
    assert "X-2, X-3" in meta["push_warnings"]
    assert "left as they are" in str(_messages(shopify)[("product", "xtee")])

    store.add_product("Merchant Cap", [{"sku": f"C-{i}", "price": "5.00"} for i in (1, 2)])
    shopify.import_csv("cap,Cap,,active,simple,,,C-1,,5.00,,USD,0.1,,")
    capsys.readouterr()
    assert shopify.push() == 0
    out = capsys.readouterr().out
    assert "warning: product cap: adopted Shopify product" in out and "left as they are" in out and "C-2" in out
    assert "left as they are" in str(_messages(shopify)[("product", "cap")])
